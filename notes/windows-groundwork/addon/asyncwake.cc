#include <winsock2.h>
// Prototype of the Windows replacement for uv_poll(doorbell fd): a dedicated
// thread blocks in WaitForMultipleObjects on a named auto-reset event (plus a
// private stop event) and forwards each wake to the JS loop with uv_async_send.
// libuv comes from node.exe's own exports (import lib made from node.exe).
#include <windows.h>
#include <uv.h>
#include <napi.h>
#include <string>

struct Watch {
  HANDLE ev = nullptr, stop = nullptr, thread = nullptr;
  uv_async_t async{};
  Napi::FunctionReference cb;
  volatile LONG pending = 0;
  LARGE_INTEGER lastSignal{};
};
static DWORD WINAPI Loop(void* p) {
  Watch* w = static_cast<Watch*>(p);
  HANDLE hs[2] = {w->stop, w->ev};
  for (;;) {
    DWORD r = WaitForMultipleObjects(2, hs, FALSE, INFINITE);
    if (r != WAIT_OBJECT_0 + 1) return 0;
    QueryPerformanceCounter(&w->lastSignal);
    InterlockedIncrement(&w->pending);
    uv_async_send(&w->async);
  }
}
static void OnAsync(uv_async_t* a) {
  Watch* w = static_cast<Watch*>(a->data);
  LONG n = InterlockedExchange(&w->pending, 0);
  Napi::Env env = w->cb.Env();
  Napi::HandleScope scope(env);
  LARGE_INTEGER now, f; QueryPerformanceCounter(&now); QueryPerformanceFrequency(&f);
  double us = double(now.QuadPart - w->lastSignal.QuadPart) * 1e6 / double(f.QuadPart);
  w->cb.Call({Napi::Number::New(env, n), Napi::Number::New(env, us)});
}
static Napi::Value WatchEvent(const Napi::CallbackInfo& info) {
  std::u16string n16 = info[0].As<Napi::String>().Utf16Value();
  std::wstring name(n16.begin(), n16.end());
  Watch* w = new Watch;
  w->ev = CreateEventW(nullptr, FALSE, FALSE, name.c_str());
  w->stop = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  w->cb = Napi::Persistent(info[1].As<Napi::Function>());
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(info.Env(), &loop);
  uv_async_init(loop, &w->async, OnAsync);
  w->async.data = w;
  w->thread = CreateThread(nullptr, 0, Loop, w, 0, nullptr);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("stop", Napi::Function::New(info.Env(), [w](const Napi::CallbackInfo& i) {
    SetEvent(w->stop); WaitForSingleObject(w->thread, INFINITE);
    CloseHandle(w->thread); CloseHandle(w->ev); CloseHandle(w->stop);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->async), [](uv_handle_t* h) {
      Watch* w = static_cast<Watch*>(h->data); w->cb.Reset(); delete w; });
  }));
  return o;
}
static Napi::Value Signal(const Napi::CallbackInfo& info) {
  std::u16string n16 = info[0].As<Napi::String>().Utf16Value();
  std::wstring name(n16.begin(), n16.end());
  HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, name.c_str());
  if (!h) return Napi::Boolean::New(info.Env(), false);
  SetEvent(h); CloseHandle(h);
  return Napi::Boolean::New(info.Env(), true);
}
static Napi::Object Init(Napi::Env env, Napi::Object e) {
  e.Set("watchEvent", Napi::Function::New(env, WatchEvent));
  e.Set("signal", Napi::Function::New(env, Signal));
  return e;
}
NODE_API_MODULE(asyncwake, Init)
