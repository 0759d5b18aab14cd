#include <napi.h>
static Napi::Value Hello(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 42); }
static Napi::Object Init(Napi::Env env, Napi::Object exports) { exports.Set("hello", Napi::Function::New(env, Hello)); return exports; }
NODE_API_MODULE(hello_noexc, Init)
