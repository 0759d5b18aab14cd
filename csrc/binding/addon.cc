// Module entry: defines the binding's classes, exports the layout table and
// constants, the signal-cleanup functions (addon_signals.h), and registers
// the environment cleanup hook. Context-aware: each worker thread gets its
// own AddonData.
#include <napi.h>

#ifdef _WIN32
#include "win32.h"
#else
#include <dlfcn.h>
#endif

#include <mutex>

#include "addon_data.h"
#include "addon_error.h"
#include "addon_peerwatch.h"
#include "addon_segment.h"
#include "addon_signals.h"
#include "addon_waiter.h"
#include "buffer_table.h"
#include "layout.h"
#include "proc.h"
#include "segment.h"
#include "uncounted_buffer.h"

namespace smsh {

AddonData::~AddonData() {
  for (SegmentHandle* s : segments) s->ForgetAddonData();
}

namespace {

void OnEnvCleanup(void* arg) {
  // Worker or process exit: unmap (and, for owners, unlink) whatever user
  // code left open. No JavaScript runs after this, so views need no detach.
  auto* data = static_cast<AddonData*>(arg);
  while (!data->segments.empty()) {
    SegmentHandle* s = *data->segments.begin();
    s->CloseNow(false);
    data->segments.erase(s);
    s->ForgetAddonData();
  }
}

// processStartTime(pid): the start time (clock ticks since boot) of a process
// as this process sees it, or null if there is no such process here.
Napi::Value ProcessStartTimeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowArgType(env, "pid must be a number");
  double pid = info[0].As<Napi::Number>().DoubleValue();
  if (!(pid >= 1 && pid <= kMaxPid) || static_cast<double>(static_cast<uint32_t>(pid)) != pid) return env.Null();
  uint64_t t = 0;
  if (!ProcessStartTime(static_cast<uint32_t>(pid), &t).ok()) return env.Null();
  return Napi::Number::New(env, static_cast<double>(t));
}

Napi::Object Layout(Napi::Env env) {
  Napi::Object offsets = Napi::Object::New(env);
  for (const LayoutEntry& e : kLayoutEntries) offsets.Set(e.name, Napi::Number::New(env, e.offset));
  for (const LayoutEntry& e : kPoolLayoutEntries) offsets.Set(e.name, Napi::Number::New(env, e.offset));
  Napi::Object o = Napi::Object::New(env);
  o.Set("offsets", offsets);
  o.Set("magic", Napi::Number::New(env, kMagic));
  o.Set("version", Napi::Number::New(env, kLayoutVersion));
  o.Set("headerSize", Napi::Number::New(env, kHeaderSize));
  o.Set("lineSize", Napi::Number::New(env, kLineSize));
  o.Set("firstWaitLine", Napi::Number::New(env, kFirstWaitLineOffset));
  o.Set("tokenSize", Napi::Number::New(env, kTokenSize));
  o.Set("waitLineSeq", Napi::Number::New(env, offsetof(WaitLine, seq)));
  o.Set("waitLineWaiting", Napi::Number::New(env, offsetof(WaitLine, waiting)));
  o.Set("waitFutex", Napi::Number::New(env, kWaitFutex));
  o.Set("waitDoorbell", Napi::Number::New(env, kWaitDoorbell));
  o.Set("kindPlain", Napi::Number::New(env, kKindPlain));
  o.Set("kindRing", Napi::Number::New(env, kKindRing));
  o.Set("kindPool", Napi::Number::New(env, kKindPool));
  o.Set("lastWaitLine", Napi::Number::New(env, kLastWaitLineOffset));
  o.Set("maxSlots", Napi::Number::New(env, kMaxSlots));
  o.Set("frameLoanSize", Napi::Number::New(env, sizeof(LoanDescriptor)));
  o.Set("sideAbsent", Napi::Number::New(env, kSideAbsent));
  o.Set("sideOpen", Napi::Number::New(env, kSideOpen));
  o.Set("sideClosed", Napi::Number::New(env, kSideClosed));
  o.Set("maxCapacity", Napi::Number::New(env, static_cast<double>(kMaxCapacity)));
  o.Set("maxSegmentSize", Napi::Number::New(env, static_cast<double>(kMaxSegmentSize)));
  o.Set("maxNameLength", Napi::Number::New(env, static_cast<double>(kMaxNameLength)));
  o.Set("sizeofHeader", Napi::Number::New(env, sizeof(Header)));
  o.Set("flagLocks", Napi::Number::New(env, kFlagLocks));
  o.Set("ownerLockByte", Napi::Number::New(env, kOwnerLockByte));
  o.Set("readerLockByte", Napi::Number::New(env, kReaderLockByte));
  return o;
}

// detachShared(ab): detaches a loan's view, made in any thread (one a
// transfer moved to this one): exactly the bytes of a live view of a pool
// slab, never a ring's or a segment's buffer, nor a part of one; TypeError
// for any other buffer. Its memory is then free of it at once, not when this
// thread's garbage collector gets to it (lib/loan/away.ts waits for that).
Napi::Value DetachSharedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) ThrowArgType(env, "buffer must be an ArrayBuffer");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (ab.IsDetached()) return env.Undefined();
  if (!BufferTable::Get().IsLoanView(ab.Data(), ab.ByteLength()))
    ThrowArgType(env, "buffer is not a loan's view (a loan, or a received loan)");
  ab.Detach();
  return env.Undefined();
}

// Keeps this library loaded until the process exits. Node unloads an addon
// when the environment that loaded it first (a worker thread) ends, even
// while other threads still use memory it tracks: the process-wide buffer
// table (buffer_table.h), whose entries keep mappings alive, and the
// deleters of backing stores other isolates hold (uncounted_buffer.h) would
// be gone with it, the mappings leaked for good and a deleter's call a jump
// into unmapped code. RTLD_NOLOAD | RTLD_NODELETE marks the loaded copy.
// Windows: GET_MODULE_HANDLE_EX_FLAG_PIN does the same for this DLL.
void PinLibrary() {
  static std::once_flag once;
  std::call_once(once, [] {
#ifdef _WIN32
    HMODULE self = nullptr;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                       reinterpret_cast<LPCWSTR>(&PinLibrary), &self);
#else
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&PinLibrary), &info) != 0 && info.dli_fname != nullptr)
      dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
#endif
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  Napi::Function segment = SegmentHandle::Define(env);
  Napi::Function waiter = WaiterHandle::Define(env);
  data->segment_ctor = Napi::Persistent(segment);
  data->waiter_ctor = Napi::Persistent(waiter);
  napi_add_env_cleanup_hook(env, OnEnvCleanup, data);
  exports.Set("SegmentHandle", segment);
  exports.Set("WaiterHandle", waiter);
  exports.Set("PeerWatchHandle", PeerWatchHandle::Define(env));
  exports.Set("layout", Layout(env));
#ifdef _WIN32
  exports.Set("platform", Napi::String::New(env, "win32"));
#else
  exports.Set("platform", Napi::String::New(env, "linux"));
#endif
  exports.Set("processStartTime", Napi::Function::New(env, ProcessStartTimeJs, "processStartTime"));
  exports.Set("selfStartTime", Napi::Number::New(env, static_cast<double>(SelfStartTime())));
  exports.Set("armSignalCleanup", Napi::Function::New(env, ArmSignalCleanupJs, "armSignalCleanup"));
  // How views are made here (uncounted_buffer.h): "uncounted" (V8 does not
  // count them against its external-memory limit) or "counted" (Node-API).
  exports.Set("viewKind", Napi::String::New(env, UncountedBuffersAvailable(env) ? "uncounted" : "counted"));
  exports.Set("detachShared", Napi::Function::New(env, DetachSharedJs, "detachShared"));
  exports.Set("unlinkOwned", Napi::Function::New(env, UnlinkOwnedJs, "unlinkOwned"));
  exports.Set("ownPath", Napi::Function::New(env, OwnPathJs, "ownPath"));
  exports.Set("disownPath", Napi::Function::New(env, DisownPathJs, "disownPath"));
  return exports;
}

}  // namespace smsh

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return smsh::Init(env, exports); }

NODE_API_MODULE(synaptic_shm, InitModule)
