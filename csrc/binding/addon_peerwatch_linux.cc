// addon_peerwatch.h on Linux: a pidfd of the process (opened only if its
// start time matches, proc.h OpenPidfd), polled by the event loop; readable
// once the process is gone.
#include <unistd.h>

#include "addon_error.h"
#include "addon_peerwatch.h"
#include "proc.h"

namespace smsh {

PeerWatchHandle::PeerWatchHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PeerWatchHandle>(info) {
  Napi::Env env = info.Env();
  uint32_t pid = 0;
  uint64_t start = 0;
  if (!Arguments(info, &pid, &start)) return;
  int fd = -1;
  bool found = false;
  Status s = OpenPidfd(pid, start, &fd, &found);
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

}  // namespace smsh
