// addon_peerwatch.h, the part every platform shares: the class, its
// arguments, the call on the event loop and the environment's cleanup. The
// watch itself is addon_peerwatch_linux.cc (a pidfd polled by the loop) or
// addon_peerwatch_win.cc (the process handle waited on by the thread pool).
#include <cmath>

#include "addon_error.h"
#include "addon_peerwatch.h"
#include "proc.h"

namespace smsh {

Napi::Function PeerWatchHandle::Define(Napi::Env env) {
  return DefineClass(env, "PeerWatchHandle",
                     {
                         InstanceMethod<&PeerWatchHandle::Close>("close"),
                         InstanceMethod<&PeerWatchHandle::State>("state"),
                     });
}

bool PeerWatchHandle::Arguments(const Napi::CallbackInfo& info, uint32_t* pid, uint64_t* start_time) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction())
    ThrowArgType(env, "PeerWatchHandle(pid, startTime, callback): numbers and a function");
  double p = info[0].As<Napi::Number>().DoubleValue();
  double start = info[1].As<Napi::Number>().DoubleValue();
  if (!(p >= 1 && p <= kMaxPid) || std::floor(p) != p || !(start >= 0) || std::floor(start) != start) {
    state_ = "gone";  // no such process can be watched
    return false;
  }
  *pid = static_cast<uint32_t>(p);
  *start_time = static_cast<uint64_t>(start);
  return true;
}

PeerWatchHandle::~PeerWatchHandle() { CloseNow(); }

void PeerWatchHandle::OnEnvCleanup(void* self) {
  auto* w = static_cast<PeerWatchHandle*>(self);
  w->cleanup_hook_ = false;
  w->CloseNow();
}

void PeerWatchHandle::Fire() {
  if (closed_) return;
  state_ = "gone";
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  try {
    callback_.Value().MakeCallback(Value(), {}, *async_context_);
  } catch (const Napi::Error& e) {
    ReportCallbackError(env, e);
  }
}

Napi::Value PeerWatchHandle::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

Napi::Value PeerWatchHandle::State(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), state_);
}

}  // namespace smsh
