// Turns a core Status into a JavaScript Error shaped like Node's own system
// errors: message, `code` (errno name or the package's code), `errno`
// (negative, as in Node's fs errors) and `syscall`.
#pragma once

#include <napi.h>

#include "status.h"

namespace smsh {

inline Napi::Error StatusToError(Napi::Env env, const Status& s) {
  Napi::Error e = Napi::Error::New(env, s.message);
  e.Set("code", Napi::String::New(env, s.code ? s.code : "EUNKNOWN"));
  if (s.err != 0) e.Set("errno", Napi::Number::New(env, -s.err));
  if (s.syscall != nullptr && s.syscall[0] != '\0') e.Set("syscall", Napi::String::New(env, s.syscall));
  return e;
}

[[noreturn]] inline void ThrowStatus(Napi::Env env, const Status& s) { throw StatusToError(env, s); }

// An error of the package's own (no errno), e.g. ECLOSED.
[[noreturn]] inline void ThrowCode(Napi::Env env, const char* code, const std::string& message) {
  ThrowStatus(env, Status::Own(code, message));
}

// Reports an exception thrown by a JavaScript callback that native code
// invoked from the event loop: it becomes an uncaught exception, as it would
// for a callback of a Node core module.
inline void ReportCallbackError(Napi::Env env, const Napi::Error& e) {
  napi_fatal_exception(env, e.Value());
}

}  // namespace smsh
