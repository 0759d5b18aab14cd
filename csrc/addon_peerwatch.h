// PeerWatchHandle: calls back on the event loop when a given process exits,
// with no polling: the loop polls a pidfd (readable once the process is
// gone). Used so a channel waiting on a peer learns of its death at once,
// instead of at its next periodic re-check. Does not keep the loop alive.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

namespace smsh {

class PeerWatchHandle : public Napi::ObjectWrap<PeerWatchHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new PeerWatchHandle(pid, startTime, callback)
  explicit PeerWatchHandle(const Napi::CallbackInfo& info);
  ~PeerWatchHandle() override;
  void CloseNow();

 private:
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value State(const Napi::CallbackInfo& info);
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnEnvCleanup(void* self);

  // "watching": a pidfd is polled; "gone": no such process (here);
  // "unwatchable": it runs but cannot be watched (no pidfd support).
  const char* state_ = "gone";
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  napi_env env_ = nullptr;
  bool cleanup_hook_ = false;
  bool closed_ = false;
};

}  // namespace smsh
