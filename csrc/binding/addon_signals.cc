#include "addon_signals.h"

#include <node_api.h>

#ifndef _WIN32
#include <dlfcn.h>
#include <signal.h>
#include <sys/stat.h>
#endif

#include <cstring>

#include "addon_data.h"
#include "addon_error.h"
#include "addon_segment.h"
#include "signal_cleanup.h"

namespace smsh {

#ifndef _WIN32
namespace {

// Node installs, at startup, a handler for SIGINT and SIGTERM
// (node::SignalExit, with SA_RESETHAND) that resets the terminal and
// re-raises the signal: it always ends the process, so we may replace it and
// chain to it. We recognise it as a one-shot handler that lives in the same
// object as Node-API itself (the node executable, or libnode), and, where
// that object exports its symbols, is SignalExit. Anything else -- libuv's
// handler for a JavaScript listener, another addon's, an LD_PRELOAD'ed
// library's -- is left alone.
bool IsNodeExitHandler(const struct sigaction& sa) {
  if ((sa.sa_flags & SA_RESETHAND) == 0) return false;
  void* fn = (sa.sa_flags & SA_SIGINFO) != 0 ? reinterpret_cast<void*>(sa.sa_sigaction)
                                             : reinterpret_cast<void*>(sa.sa_handler);
  Dl_info handler{}, runtime{};
  if (dladdr(fn, &handler) == 0 || dladdr(reinterpret_cast<void*>(&napi_create_object), &runtime) == 0)
    return false;
  if (handler.dli_fbase == nullptr || handler.dli_fbase != runtime.dli_fbase) return false;
  return handler.dli_sname == nullptr || std::strstr(handler.dli_sname, "SignalExit") != nullptr;
}

const char* SignalName(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
  }
  return "?";
}

}  // namespace

void ArmCleanupSignals() {
  for (int s : kCleanupSignals) ArmSignalCleanup(s, IsNodeExitHandler);
}

Napi::Value ArmSignalCleanupJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ArmCleanupSignals();
  Napi::Array armed = Napi::Array::New(env);
  uint32_t n = 0;
  for (int s : kCleanupSignals)
    if (SignalCleanupArmed(s)) armed.Set(n++, Napi::String::New(env, SignalName(s)));
  return armed;
}

#else
// Windows: names die with their handles; there is nothing to clean up on a
// console control event, and no handler is installed.
void ArmCleanupSignals() {}

Napi::Value ArmSignalCleanupJs(const Napi::CallbackInfo& info) { return Napi::Array::New(info.Env()); }
#endif

Napi::Value OwnPathJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean())
    ThrowArgType(env, "ownPath(path: string, directory: boolean)");
#ifdef _WIN32
  return env.Null();
#else
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return env.Null();
  OwnedName* entry = RegisterOwnedPath(path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                                       info[1].As<Napi::Boolean>().Value());
  if (entry == nullptr) return env.Null();
  ArmCleanupSignals();
  return Napi::External<OwnedName>::New(env, entry);
#endif
}

Napi::Value DisownPathJs(const Napi::CallbackInfo& info) {
  if (info.Length() > 0 && info[0].IsExternal()) UnregisterOwnedName(info[0].As<Napi::External<OwnedName>>().Data());
  return info.Env().Undefined();
}

Napi::Value UnlinkOwnedJs(const Napi::CallbackInfo& info) {
  AddonData* data = GetAddonData(info.Env());
  if (data != nullptr)
    for (SegmentHandle* s : data->segments) s->UnlinkIfOwned();
  return info.Env().Undefined();
}

}  // namespace smsh
