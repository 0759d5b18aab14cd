// WaiterHandle: wakes a JavaScript callback on the event loop when a peer
// process notifies a wait line, without blocking the loop. Two mechanisms
// behind one interface (measured in bench/wakeup.ts, see ARCHITECTURE.md):
//   "futex"    a native thread sleeps in FUTEX_WAIT and calls back through a
//              thread-safe function;
//   "doorbell" the loop polls a Unix datagram socket in the segment owner's
//              0700 directory (uv_poll; doorbell.h) that the waker sends one
//              byte to.
// A doorbell that cannot be used safely (its directory was created by
// another user, ...) falls back to "futex": mode() reports the mechanism in
// use, and the sleeper must advertise that one in the wait line.
// Armed once per wait (arm(expected)); the callback runs once per arm. An
// armed waiter keeps the event loop alive, a disarmed one does not.
#pragma once

#include <napi.h>

#include "doorbell.h"
#if SMSH_HAVE_DOORBELL
#include <uv.h>
#endif

#include <atomic>
#include <memory>
#include <string>

#include "doorbell.h"
#include "notify.h"

namespace smsh {

class SegmentHandle;

class WaiterHandle : public Napi::ObjectWrap<WaiterHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit WaiterHandle(const Napi::CallbackInfo& info);
  ~WaiterHandle() override;
  // Stops the thread or poll, releases the callback. Idempotent.
  void CloseNow();

 private:
  enum class WaitMode { kFutex, kDoorbell };
  Napi::Value Arm(const Napi::CallbackInfo& info);
  Napi::Value Disarm(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetMode(const Napi::CallbackInfo& info);
  Napi::Value GetFallbackReason(const Napi::CallbackInfo& info);
  // sweepDoorbells(dryRun): {dir, files: [{name, live, removed}]} for this
  // process's own doorbell directory (SweepDoorbells).
  static Napi::Value SweepDoorbells(const Napi::CallbackInfo& info);
  void StartFutex(Napi::Env env);
  void WarnFallback(Napi::Env env);
  void Fire();  // on the JS thread: disarm and call the callback
#if SMSH_HAVE_DOORBELL
  static void OnPoll(uv_poll_t* handle, int status, int events);
#endif
  static void OnEnvCleanup(WaiterHandle* self);

  WaitMode mode_ = WaitMode::kFutex;
  SegmentHandle* segment_ = nullptr;     // kept alive by segment_ref_
  Napi::ObjectReference segment_ref_;
  Napi::FunctionReference callback_;
  uint32_t line_offset_ = 0;
  bool armed_ = false;
  bool closed_ = false;
  std::string fallback_reason_;  // why "doorbell" became "futex"; empty if it did not

  // futex mode
  std::unique_ptr<FutexWatcher> watcher_;
  Napi::ThreadSafeFunction tsfn_;
  // Shared with queued thread-safe calls, which may run after CloseNow.
  std::shared_ptr<std::atomic<bool>> alive_;

#if SMSH_HAVE_DOORBELL
  // doorbell mode
  DoorbellListener* listener_ = nullptr;  // freed in the uv_close callback
  uv_poll_t* poll_ = nullptr;
#endif
  std::unique_ptr<Napi::AsyncContext> async_context_;

  napi_env env_ = nullptr;
  bool cleanup_hook_ = false;
};

}  // namespace smsh
