# The shipping build: node-gyp-build at install time (when no prebuild fits)
# and prebuildify for the prebuilt binaries. Sources come from
# csrc/sources.json, the list CMakeLists.txt reads too.
{
  "targets": [
    {
      "target_name": "synaptic_shm",
      "sources": [
        "<!@(node -p \"const s=require('./csrc/sources.json');const o=process.platform==='win32'?'win32':'linux';[...s.core,...s['core_'+o],...s.binding,...s['binding_'+o]].join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node -p \"const s=require('./csrc/sources.json');const o=process.platform==='win32'?'win32':'linux';[...s.include,...s['include_'+o]].join(' ')\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags": ["-Wall", "-Wextra"],
      "libraries": ["-ldl"],
      "conditions": [
        ["OS!='linux'", {
          "sources!": [],
          "defines": ["SMSH_UNSUPPORTED_PLATFORM"]
        }]
      ]
    }
  ]
}
