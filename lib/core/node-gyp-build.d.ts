// node-gyp-build ships no types; this is the part we use.
declare module "node-gyp-build" {
  /** Loads the addon for this platform from `dir`: build/Release, else prebuilds/. */
  function load(dir: string): unknown;
  namespace load {
    /** The path `load(dir)` would require, without loading it. */
    function path(dir: string): string;
  }
  export = load;
}
