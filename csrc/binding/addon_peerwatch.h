// PeerWatchHandle: calls back on the event loop when a given process exits,
// with no polling. Linux (addon_peerwatch_linux.cc): the loop polls a pidfd
// (readable once the process is gone). Windows (addon_peerwatch_win.cc): a
// thread-pool wait on the process handle calls a thread-safe function. Used so a channel waiting on a peer learns of its death at once,
// instead of at its next periodic re-check. Does not keep the loop alive.
#pragma once

#include <napi.h>
#ifndef _WIN32
#include <uv.h>
#endif

#include <atomic>
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
  static void OnEnvCleanup(void* self);
  void Fire();  // on the JS thread: the process is gone
  // Checks the constructor's arguments (TypeError) and sets env_; false,
  // with state "gone", for a pid or start time no process can have.
  bool Arguments(const Napi::CallbackInfo& info, uint32_t* pid, uint64_t* start_time);

  // "watching": a pidfd is polled; "gone": no such process (here);
  // "unwatchable": it runs but cannot be watched (no pidfd support).
  const char* state_ = "gone";
#ifdef _WIN32
  void* process_ = nullptr;  // HANDLE, SYNCHRONIZE
  void* wait_ = nullptr;     // RegisterWaitForSingleObject
  void* exit_context_ = nullptr;  // what the wait's callback reads
  Napi::ThreadSafeFunction tsfn_;
  // Shared with a queued thread-safe call, which may run after CloseNow.
  std::shared_ptr<std::atomic<bool>> alive_;
#else
  static void OnPoll(uv_poll_t* handle, int status, int events);
  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
#endif
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  napi_env env_ = nullptr;
  bool cleanup_hook_ = false;
  bool closed_ = false;
};

}  // namespace smsh
