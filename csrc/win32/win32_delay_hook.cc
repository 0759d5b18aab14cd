// The addon imports Node-API from "node.exe" through a delay-load import
// library (scripts/build-win32.mjs). When the host executable has another
// name (a renamed node.exe, an embedder), this hook answers the loader with
// the running executable, so the imports resolve against it and no second
// copy of node.exe is ever loaded. node-gyp links the same kind of hook
// into MSVC builds.
#ifdef _WIN32

#include "win32.h"

#include <delayimp.h>

#include <cstring>

namespace {

FARPROC WINAPI ResolveHostExecutable(unsigned int event, DelayLoadInfo* info) {
  if (event != dliNotePreLoadLibrary || info == nullptr || info->szDll == nullptr) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}

}  // namespace

// MinGW's delayimp.h declares the hook without const.
extern "C" {
PfnDliHook __pfnDliNotifyHook2 = ResolveHostExecutable;
}

#endif  // _WIN32
