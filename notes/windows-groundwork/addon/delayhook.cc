// mingw equivalent of node-gyp's win_delay_load_hook.cc: resolve "node.exe"
// imports against the host process, whatever the .exe is called.
#include <windows.h>
#include <delayimp.h>
#include <cstring>
static FARPROC WINAPI load_exe_hook(unsigned int event, DelayLoadInfo* info) {
  if (event != dliNotePreLoadLibrary) return nullptr;
  if (_stricmp(info->szDll, "node.exe") != 0) return nullptr;
  return reinterpret_cast<FARPROC>(GetModuleHandleW(nullptr));
}
extern "C" { PfnDliHook __pfnDliNotifyHook2 = load_exe_hook; }  // non-const in mingw's delayimp.h
