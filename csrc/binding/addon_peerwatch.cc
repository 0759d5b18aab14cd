#include "addon_peerwatch.h"

#include <unistd.h>

#include <cmath>

#include "addon_error.h"
#include "proc.h"

namespace smsh {

Napi::Function PeerWatchHandle::Define(Napi::Env env) {
  return DefineClass(env, "PeerWatchHandle",
                     {
                         InstanceMethod<&PeerWatchHandle::Close>("close"),
                         InstanceMethod<&PeerWatchHandle::State>("state"),
                     });
}

PeerWatchHandle::PeerWatchHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PeerWatchHandle>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction())
    ThrowArgType(env, "PeerWatchHandle(pid, startTime, callback): numbers and a function");
  double pid = info[0].As<Napi::Number>().DoubleValue();
  double start = info[1].As<Napi::Number>().DoubleValue();
  if (!(pid >= 1 && pid <= kMaxPid) || std::floor(pid) != pid || !(start >= 0) || std::floor(start) != start) {
    state_ = "gone";
    return;
  }
  int fd = -1;
  bool found = false;
  Status s = OpenPidfd(static_cast<uint32_t>(pid), static_cast<uint64_t>(start), &fd, &found);
  if (!s.ok()) ThrowStatus(env, s);
  if (fd < 0) {
    state_ = found ? "unwatchable" : "gone";
    return;
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    close(fd);
    state_ = "unwatchable";
    return;
  }
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, fd);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &PeerWatchHandle::OnPoll);
  if (rc != 0) {
    // A handle that was initialised must be closed through the loop.
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
    close(fd);
    ThrowStatus(env, Status::FromErrno(-rc, "uv_poll_start", "pidfd"));
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // a watch alone must not keep the process alive
  poll_->data = this;
  fd_ = fd;
  state_ = "watching";
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "SynapticShmPeerWatch");
  napi_add_env_cleanup_hook(env, &PeerWatchHandle::OnEnvCleanup, this);
  cleanup_hook_ = true;
}

PeerWatchHandle::~PeerWatchHandle() { CloseNow(); }

void PeerWatchHandle::OnEnvCleanup(void* self) {
  auto* w = static_cast<PeerWatchHandle*>(self);
  w->cleanup_hook_ = false;
  w->CloseNow();
}

void PeerWatchHandle::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = reinterpret_cast<void*>(static_cast<intptr_t>(fd_));
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
      close(static_cast<int>(reinterpret_cast<intptr_t>(h->data)));  // the fd, after libuv let go of it
      delete reinterpret_cast<uv_poll_t*>(h);
    });
    poll_ = nullptr;
    fd_ = -1;
  }
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, &PeerWatchHandle::OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
  if (!callback_.IsEmpty()) callback_.Reset();
}

void PeerWatchHandle::OnPoll(uv_poll_t* handle, int, int) {
  auto* self = static_cast<PeerWatchHandle*>(handle->data);
  if (self == nullptr || self->closed_) return;
  uv_poll_stop(handle);  // fires once: the process is gone
  self->Fire();
}

void PeerWatchHandle::Fire() {
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
