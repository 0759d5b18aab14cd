// addon_peerwatch.h on Windows: the process handle (opened only if the
// recorded start time matches, proc.h OpenProcessWatch) is waited on by the
// thread pool (RegisterWaitForSingleObject, once); the wait's callback
// queues a call on the event loop through a thread-safe function, which
// does not keep the loop alive.
#ifdef _WIN32

#include "addon_error.h"
#include "addon_peerwatch.h"
#include "proc.h"
#include "win32.h"

namespace smsh {

namespace {

struct ExitContext {
  Napi::ThreadSafeFunction tsfn;
  std::shared_ptr<std::atomic<bool>> alive;
  PeerWatchHandle* self;
};

}  // namespace

PeerWatchHandle::PeerWatchHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PeerWatchHandle>(info) {
  Napi::Env env = info.Env();
  uint32_t pid = 0;
  uint64_t start = 0;
  if (!Arguments(info, &pid, &start)) return;
  void* process = nullptr;
  bool found = false;
  Status s = OpenProcessWatch(pid, start, &process, &found);
  if (!s.ok()) ThrowStatus(env, s);
  if (process == nullptr) {
    state_ = found ? "unwatchable" : "gone";
    return;
  }
  process_ = process;
  callback_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "SynapticShmPeerWatch");
  alive_ = std::make_shared<std::atomic<bool>>(true);
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback_.Value(), "SynapticShmPeerWatch", 0, 1);
  tsfn_.Unref(env);  // a watch alone must not keep the process alive
  // Freed by CloseNow, once the wait is unregistered (nothing reads it then).
  auto* ctx = new ExitContext{tsfn_, alive_, this};
  HANDLE wait = nullptr;
  BOOL ok = RegisterWaitForSingleObject(
      &wait, static_cast<HANDLE>(process_),
      [](void* arg, BOOLEAN) {
        auto* c = static_cast<ExitContext*>(arg);
        std::shared_ptr<std::atomic<bool>> alive = c->alive;
        PeerWatchHandle* self = c->self;
        // Refused if the environment is closing: nobody is left to tell.
        c->tsfn.NonBlockingCall([alive, self](Napi::Env, Napi::Function) {
          if (alive->load()) self->Fire();
        });
      },
      ctx, INFINITE, WT_EXECUTEONLYONCE);
  if (!ok) {
    DWORD err = GetLastError();
    delete ctx;
    tsfn_.Release();
    CloseHandle(static_cast<HANDLE>(process_));
    process_ = nullptr;
    ThrowStatus(env, WinStatus(err, "RegisterWaitForSingleObject", "peer watch"));
  }
  wait_ = wait;
  exit_context_ = ctx;
  state_ = "watching";
  // After the thread-safe function: hooks run in reverse order, so the wait
  // is cancelled before the function goes away.
  napi_add_env_cleanup_hook(env, &PeerWatchHandle::OnEnvCleanup, this);
  cleanup_hook_ = true;
}

void PeerWatchHandle::CloseNow() {
  if (closed_) return;
  closed_ = true;
  if (wait_ != nullptr) {
    // Blocks until a callback in progress has returned: afterwards nothing
    // touches the context.
    UnregisterWaitEx(static_cast<HANDLE>(wait_), INVALID_HANDLE_VALUE);
    wait_ = nullptr;
    delete static_cast<ExitContext*>(exit_context_);
    exit_context_ = nullptr;
    alive_->store(false);
    tsfn_.Release();
  }
  if (process_ != nullptr) {
    CloseHandle(static_cast<HANDLE>(process_));
    process_ = nullptr;
  }
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, &PeerWatchHandle::OnEnvCleanup, this);
    cleanup_hook_ = false;
  }
  if (!callback_.IsEmpty()) callback_.Reset();
}

}  // namespace smsh

#endif  // _WIN32
