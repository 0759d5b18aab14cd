// Turns a core Status into a JavaScript Error shaped like Node's own system
// errors: message, `code` (errno name or the package's code), `errno`
// (negative, as in Node's fs errors) and `syscall`.
#pragma once

#include <napi.h>

#include <string>

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

// Argument errors, shaped like Node's own (every error the binding throws
// carries a string `code`): TypeError ERR_INVALID_ARG_TYPE for a wrong type,
// TypeError ERR_INVALID_ARG_VALUE for a right type with an unusable value,
// RangeError ERR_OUT_OF_RANGE for a number outside its range.
[[noreturn]] inline void ThrowArgType(Napi::Env env, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_TYPE"));
  throw e;
}

[[noreturn]] inline void ThrowArgValue(Napi::Env env, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_INVALID_ARG_VALUE"));
  throw e;
}

[[noreturn]] inline void ThrowOutOfRange(Napi::Env env, const std::string& message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, "ERR_OUT_OF_RANGE"));
  throw e;
}

// Reports an exception thrown by a JavaScript callback that native code
// invoked from the event loop: it becomes an uncaught exception, as it would
// for a callback of a Node core module.
inline void ReportCallbackError(Napi::Env env, const Napi::Error& e) {
  napi_fatal_exception(env, e.Value());
}

}  // namespace smsh
