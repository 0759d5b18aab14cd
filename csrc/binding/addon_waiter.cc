#include "addon_waiter.h"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#ifndef _WIN32
#include <unistd.h>
#endif

#include "addon_data.h"
#include "addon_error.h"
#include "addon_segment.h"
#include "addon_signals.h"

namespace smsh {

namespace {

WaitLine* LineAt(Segment& seg, uint32_t offset) {
  return reinterpret_cast<WaitLine*>(seg.base() + offset);
}

struct PollClose {
  DoorbellListener* listener;
};

}  // namespace

Napi::Function WaiterHandle::Define(Napi::Env env) {
  return DefineClass(env, "WaiterHandle",
                     {
                         InstanceMethod<&WaiterHandle::Arm>("arm"),
                         InstanceMethod<&WaiterHandle::Disarm>("disarm"),
                         InstanceMethod<&WaiterHandle::Close>("close"),
                         InstanceMethod<&WaiterHandle::GetMode>("mode"),
                         InstanceMethod<&WaiterHandle::GetFallbackReason>("fallbackReason"),
                         StaticMethod<&WaiterHandle::SweepDoorbells>("sweepDoorbells"),
                     });
}

WaiterHandle::WaiterHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WaiterHandle>(info) {
  Napi::Env env = info.Env();
  env_ = env;
  AddonData* data = GetAddonData(env);
  if (info.Length() < 4 || !info[0].IsObject() ||
      !info[0].As<Napi::Object>().InstanceOf(data->segment_ctor.Value()))
    ThrowArgType(env, "Waiter(segment, lineOffset, mode, callback): segment must be a SegmentHandle");
  if (!info[3].IsFunction()) ThrowArgType(env, "callback must be a function");
  if (!info[1].IsNumber()) ThrowArgType(env, "lineOffset must be a number");
  std::string mode = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : std::string();
  if (mode == "futex") {
    mode_ = WaitMode::kFutex;
  } else if (mode == "doorbell") {
    mode_ = WaitMode::kDoorbell;
  } else {
    ThrowArgValue(env, "mode must be \"futex\" or \"doorbell\"");
  }
  segment_ = SegmentHandle::FromValue(env, info[0]);
  segment_->Open(env);  // ECLOSED if closed
  double off = info[1].As<Napi::Number>().DoubleValue();
  if (!(off >= kFirstWaitLineOffset) || off > kLastWaitLineOffset || static_cast<uint32_t>(off) % kLineSize != 0 ||
      static_cast<double>(static_cast<uint32_t>(off)) != off)
    ThrowOutOfRange(env, "lineOffset must be the offset of a wait line in the header");
  line_offset_ = static_cast<uint32_t>(off);
  segment_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  callback_ = Napi::Persistent(info[3].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "SynapticShmWaiter");
  alive_ = std::make_shared<std::atomic<bool>>(true);

#if !SMSH_HAVE_DOORBELL
  if (mode_ == WaitMode::kDoorbell) {
    // Not a fallback worth a warning: this platform wakes event loops
    // through the waiter thread by design.
    fallback_reason_ = "this platform has no doorbell: a waiter thread wakes the event loop";
    mode_ = WaitMode::kFutex;
  }
#else
  if (mode_ == WaitMode::kDoorbell) {
    auto listener = std::make_unique<DoorbellListener>();
    uint8_t token[kTokenSize];
    std::memcpy(token, segment_->Open(env).token(), kTokenSize);
    Status s = listener->Open(segment_->Doorbells(), token, line_offset_);
    if (!s.ok() && s.err == EADDRINUSE) ThrowStatus(env, s);  // a live waiter on this line
    if (!s.ok()) {
      // Not safely usable here (directory squatted by another user, root on
      // another user's segment without setfsuid, ...): wake through the
      // futex thread instead of failing. The caller sees mode() "futex".
      fallback_reason_ = s.message;
      mode_ = WaitMode::kFutex;
      WarnFallback(env);
    } else {
      // The socket file is ours to remove when a signal ends the process
      // (it is registered): the handler must be in place, as for a segment
      // this process creates.
      ArmCleanupSignals();
      uv_loop_t* loop = nullptr;
      if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr)
        ThrowCode(env, "ENOTSUP", "no libuv event loop in this environment");
      poll_ = new uv_poll_t;
      int rc = uv_poll_init(loop, poll_, listener->fd());
      if (rc != 0) {
        delete poll_;
        poll_ = nullptr;
        ThrowStatus(env, Status::FromErrno(-rc, "uv_poll_init", "doorbell"));
      }
      poll_->data = this;
      listener_ = listener.release();
    }
  }
#endif
  if (mode_ == WaitMode::kFutex) StartFutex(env);
  // Registered after the thread-safe function, so it runs before the
  // function's own cleanup (hooks run in reverse order): the watcher
  // thread is stopped before the function it calls goes away.
  napi_add_env_cleanup_hook(env, reinterpret_cast<void (*)(void*)>(&WaiterHandle::OnEnvCleanup), this);
  cleanup_hook_ = true;
  segment_->AddWaiter(this);
}

void WaiterHandle::StartFutex(Napi::Env env) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback_.Value(), "SynapticShmFutexWaiter", 0, 1);
  tsfn_.Unref(env);  // only an armed waiter keeps the loop alive
  Napi::ThreadSafeFunction tsfn = tsfn_;
  std::shared_ptr<std::atomic<bool>> alive = alive_;
  WaiterHandle* self = this;
  watcher_ = std::make_unique<FutexWatcher>([tsfn, alive, self]() mutable {
    // On the watcher thread. If the environment is closing the call is
    // refused, which is fine: nobody is left to wake.
    tsfn.NonBlockingCall([alive, self](Napi::Env, Napi::Function) {
      if (alive->load()) self->Fire();
    });
  });
}

// Once per process: a doorbell that falls back is worth telling an operator
// about (another user may be squatting the directory), but not every time.
void WaiterHandle::WarnFallback(Napi::Env env) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return;
  try {
    Napi::Object process = env.Global().Get("process").As<Napi::Object>();
    Napi::Value emit = process.Get("emitWarning");
    if (!emit.IsFunction()) return;
    Napi::Object opts = Napi::Object::New(env);
    opts.Set("code", "SYNAPTIC_SHM_DOORBELL");
    opts.Set("detail", "Event-loop waits use the futex thread instead (slightly slower). "
                       "This warning is shown once per process.");
    emit.As<Napi::Function>().Call(process, {Napi::String::New(env, "doorbell unavailable: " + fallback_reason_), opts});
  } catch (const Napi::Error&) {
    // A warning that cannot be shown is not worth failing the wait for.
  }
}

WaiterHandle::~WaiterHandle() { CloseNow(); }

void WaiterHandle::OnEnvCleanup(WaiterHandle* self) {
  self->cleanup_hook_ = false;  // being run: do not remove it
  self->CloseNow();
}

void WaiterHandle::CloseNow() {
  if (closed_) return;
  closed_ = true;
  armed_ = false;
  alive_->store(false);
  if (watcher_) {
    watcher_->Stop();  // joins: the thread no longer touches the mapping
    watcher_.reset();
    tsfn_.Release();
  }
#if SMSH_HAVE_DOORBELL
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    // The file goes now: the close callback below that closes the socket
    // never runs if the loop does not turn again (process exit).
    listener_->RemoveFile();
    poll_->data = listener_;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) {
      delete static_cast<DoorbellListener*>(h->data);
      delete reinterpret_cast<uv_poll_t*>(h);
    });
    poll_ = nullptr;
    listener_ = nullptr;
  }
#endif
  if (cleanup_hook_) {
    napi_remove_env_cleanup_hook(env_, reinterpret_cast<void (*)(void*)>(&WaiterHandle::OnEnvCleanup), this);
    cleanup_hook_ = false;
  }
  if (segment_ != nullptr) {
    segment_->RemoveWaiter(this);
    segment_ = nullptr;
  }
  // References are released by their destructors (or Reset below when the
  // environment is still usable).
  if (!segment_ref_.IsEmpty()) segment_ref_.Reset();
  if (!callback_.IsEmpty()) callback_.Reset();
}

Napi::Value WaiterHandle::Arm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) ThrowCode(env, "ECLOSED", "waiter is closed");
  Segment& seg = segment_->Open(env);
  if (!info[0].IsNumber()) ThrowArgType(env, "expectedSeq must be a number");
  uint32_t expected = info[0].As<Napi::Number>().Uint32Value();
  WaitLine* line = LineAt(seg, line_offset_);
  if (mode_ == WaitMode::kFutex) {
    watcher_->Arm(&line->seq, expected);
    if (!armed_) tsfn_.Ref(env);
  } else {
#if SMSH_HAVE_DOORBELL
    int rc = uv_poll_start(poll_, UV_READABLE, &WaiterHandle::OnPoll);
    if (rc != 0) ThrowStatus(env, Status::FromErrno(-rc, "uv_poll_start", "doorbell"));
    // A wake that happened before we polled left seq changed: ring our own
    // bell so the poll fires now instead of never.
    if (__atomic_load_n(&line->seq, __ATOMIC_SEQ_CST) != expected)
      RingDoorbell(DoorbellTarget{segment_->DoorbellSender(), &segment_->Doorbells(), seg.token(), line_offset_});
#endif
  }
  armed_ = true;
  return env.Undefined();
}

Napi::Value WaiterHandle::Disarm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || !armed_) return env.Undefined();
  armed_ = false;
  if (mode_ == WaitMode::kFutex) {
    watcher_->Disarm();
    tsfn_.Unref(env);
  } else {
#if SMSH_HAVE_DOORBELL
    uv_poll_stop(poll_);
#endif
  }
  return env.Undefined();
}

Napi::Value WaiterHandle::Close(const Napi::CallbackInfo& info) {
  CloseNow();
  return info.Env().Undefined();
}

Napi::Value WaiterHandle::GetMode(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), mode_ == WaitMode::kFutex ? "futex" : "doorbell");
}

Napi::Value WaiterHandle::GetFallbackReason(const Napi::CallbackInfo& info) {
  if (fallback_reason_.empty()) return info.Env().Null();
  return Napi::String::New(info.Env(), fallback_reason_);
}

Napi::Value WaiterHandle::SweepDoorbells(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
#ifdef _WIN32
  DoorbellDir dir;  // none: an empty list
#else
  DoorbellDir dir(static_cast<uint32_t>(geteuid()));
#endif
  std::vector<DoorbellFile> files;
  Status s = smsh::SweepDoorbells(dir, info[0].ToBoolean().Value(), &files);
  if (!s.ok()) ThrowStatus(env, s);
  Napi::Array list = Napi::Array::New(env, files.size());
  for (size_t i = 0; i < files.size(); i++) {
    Napi::Object f = Napi::Object::New(env);
    f.Set("name", files[i].name);
    f.Set("live", files[i].live);
    f.Set("removed", files[i].removed);
    list.Set(static_cast<uint32_t>(i), f);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("dir", dir.path());
  o.Set("files", list);
  return o;
}

#if SMSH_HAVE_DOORBELL
void WaiterHandle::OnPoll(uv_poll_t* handle, int, int) {
  auto* self = static_cast<WaiterHandle*>(handle->data);
  if (self == nullptr || self->closed_) return;
  self->listener_->Drain();
  self->Fire();
}
#endif

void WaiterHandle::Fire() {
  if (closed_ || !armed_) return;
  armed_ = false;
  Napi::Env env(env_);
  if (mode_ == WaitMode::kFutex) {
    tsfn_.Unref(env);
  } else {
#if SMSH_HAVE_DOORBELL
    uv_poll_stop(poll_);
#endif
  }
  Napi::HandleScope scope(env);
  try {
    callback_.Value().MakeCallback(Value(), {}, *async_context_);
  } catch (const Napi::Error& e) {
    ReportCallbackError(env, e);
  }
}

}  // namespace smsh
