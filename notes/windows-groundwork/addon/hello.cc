#include <napi.h>
#include <stdexcept>
#include <string>

static Napi::Value Hello(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), 42);
}
static Napi::Value Throws(const Napi::CallbackInfo& info) {
  // exercise C++ exceptions across the N-API boundary (NAPI_CPP_EXCEPTIONS)
  try { throw std::runtime_error("inner"); } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("caught ") + e.what());
  }
}
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("hello", Napi::Function::New(env, Hello));
  exports.Set("throws", Napi::Function::New(env, Throws));
  return exports;
}
NODE_API_MODULE(hello, Init)
