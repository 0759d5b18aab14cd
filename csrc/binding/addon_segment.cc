#include "addon_segment.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>

#include <unistd.h>

#include "addon_data.h"
#include "addon_error.h"
#include "addon_signals.h"
#include "addon_waiter.h"
#include "buffer_table.h"
#include "doorbell.h"
#include "futex.h"
#include "notify.h"
#include "signal_cleanup.h"
#include "uncounted_buffer.h"

namespace smsh {

namespace {

std::string HexToken(const uint8_t* token) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < kTokenSize; i++) {
    s += digits[token[i] >> 4];
    s += digits[token[i] & 15];
  }
  return s;
}

// Arguments are validated in lib/core/segment.ts; these checks only keep a
// direct caller of the binding from reaching the core with nonsense.
std::string NameArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) ThrowArgType(info.Env(), "name must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

uint64_t SizeArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) ThrowArgType(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v)
    ThrowOutOfRange(info.Env(), std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(v);
}

void FinalizeBuffer(napi_env, void*, void* hint) {
  BufferTable::Get().Release(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(hint)));
}

// The message of a pending JavaScript exception, taken off the environment
// (it would otherwise be thrown instead of our error), or "".
std::string TakePendingException(Napi::Env env, std::string* code) {
  bool pending = false;
  napi_value e = nullptr;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return "";
  if (napi_get_and_clear_last_exception(env, &e) != napi_ok || e == nullptr) return "";
  std::string message;
  auto read = [&](const char* key) -> std::string {
    napi_valuetype t;
    if (napi_typeof(env, e, &t) != napi_ok || t != napi_object) return "";
    napi_value v;
    if (napi_get_named_property(env, e, key, &v) != napi_ok) return "";
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return "";
    size_t n = 0;
    if (napi_get_value_string_utf8(env, v, nullptr, 0, &n) != napi_ok) return "";
    std::string out(n, '\0');
    if (napi_get_value_string_utf8(env, v, &out[0], n + 1, &n) != napi_ok) return "";
    out.resize(n);
    return out;
  };
  // A getter that throws leaves a new pending exception: drop it too.
  message = read("message");
  *code = read("code");
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &e);
  return message;
}

}  // namespace

Napi::Function SegmentHandle::Define(Napi::Env env) {
  return DefineClass(env, "SegmentHandle",
                     {
                         StaticMethod<&SegmentHandle::Create>("create"),
                         StaticMethod<&SegmentHandle::Attach>("attach"),
                         StaticMethod<&SegmentHandle::Inspect>("inspect"),
                         StaticMethod<&SegmentHandle::UnlinkIfSame>("unlinkIfSame"),
                         InstanceMethod<&SegmentHandle::Lock>("lock"),
                         InstanceMethod<&SegmentHandle::Unlock>("unlock"),
                         InstanceMethod<&SegmentHandle::Probe>("probe"),
                         InstanceMethod<&SegmentHandle::Info>("info"),
                         InstanceMethod<&SegmentHandle::Buffer>("buffer"),
                         InstanceMethod<&SegmentHandle::View>("view"),
                         InstanceMethod<&SegmentHandle::ViewInUse>("viewInUse"),
                         InstanceMethod<&SegmentHandle::ViewToken>("viewToken"),
                         InstanceMethod<&SegmentHandle::DetachView>("detachView"),
                         InstanceMethod<&SegmentHandle::Close>("close"),
                         InstanceMethod<&SegmentHandle::Unlink>("unlink"),
                         InstanceMethod<&SegmentHandle::SetUnlinkOnClose>("setUnlinkOnClose"),
                         InstanceMethod<&SegmentHandle::Closed>("closed"),
                         InstanceMethod<&SegmentHandle::Wait>("wait"),
                         InstanceMethod<&SegmentHandle::Wake>("wake"),
                         InstanceMethod<&SegmentHandle::Notify>("notify"),
                         InstanceMethod<&SegmentHandle::OpenWaker>("openWaker"),
                     });
}

SegmentHandle::SegmentHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SegmentHandle>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    ThrowArgType(info.Env(), "SegmentHandle is made by create() or attach()");
  seg_.reset(info[0].As<Napi::External<Segment>>().Data());
  unlink_on_close_ = seg_->owner();
  data_ = GetAddonData(info.Env());
  data_->segments.insert(this);
  SyncOwnedName();
}

SegmentHandle::~SegmentHandle() {
  // GC finalizer backstop. The environment may be gone at process exit
  // (then the cleanup hook already closed us), so do no N-API work here.
  while (!waiters_.empty()) (*waiters_.begin())->CloseNow();
  if (seg_ && seg_->mapped()) {
    if (unlink_on_close_) seg_->Unlink();
    // The ArrayBuffer, if still alive, keeps the mapping through seg_.
  }
  UnregisterOwnedName(owned_name_);
  if (doorbell_fd_ >= 0) close(doorbell_fd_);
  if (data_ != nullptr) data_->segments.erase(this);
}

Napi::Value SegmentHandle::Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CreateOptions opts;
  opts.name = NameArg(info, 0);
  opts.data_size = SizeArg(info, 1, "size");
  opts.kind = static_cast<uint32_t>(SizeArg(info, 2, "kind"));
  opts.capacity = static_cast<uint32_t>(std::min<uint64_t>(SizeArg(info, 3, "capacity"), UINT32_MAX));
  opts.prefault = info[4].ToBoolean().Value();
  std::unique_ptr<Segment> seg;
  Status s = Segment::Create(opts, &seg);
  if (!s.ok()) ThrowStatus(env, s);
  Napi::Value external = Napi::External<Segment>::New(env, seg.get());
  Napi::Object obj = GetAddonData(env)->segment_ctor.New({external});
  seg.release();  // the handle owns it now
  // Re-armed at every create: a JavaScript listener may have come and gone
  // (libuv leaves SIG_DFL behind).
  ArmCleanupSignals();
  return obj;
}

Napi::Value SegmentHandle::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<Segment> seg;
  int kind = -1;
  if (info.Length() > 2 && !info[2].IsUndefined()) kind = static_cast<int>(SizeArg(info, 2, "kind") & 0x7fffffff);
  Status s = Segment::Attach(NameArg(info, 0), &seg, info[1].ToBoolean().Value(), kind);
  if (!s.ok()) ThrowStatus(env, s);
  Napi::Value external = Napi::External<Segment>::New(env, seg.get());
  Napi::Object obj = GetAddonData(env)->segment_ctor.New({external});
  seg.release();
  return obj;
}

Napi::Value SegmentHandle::Inspect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Inspection in;
  Status s = smsh::Inspect(NameArg(info, 0), &in);
  if (!s.ok()) ThrowStatus(env, s);
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(in.size)));
  o.Set("uid", Napi::Number::New(env, in.uid));
  o.Set("mode", Napi::Number::New(env, in.mode));
  o.Set("id", Napi::String::New(env, std::to_string(in.dev) + ":" + std::to_string(in.ino)));
  Napi::ArrayBuffer header = Napi::ArrayBuffer::New(env, sizeof(Header));
  std::memcpy(header.Data(), &in.header, sizeof(Header));
  o.Set("header", header);
  if (!in.validity.ok()) {
    o.Set("invalid", Napi::String::New(env, in.validity.code));
    o.Set("reason", Napi::String::New(env, in.validity.message));
  }
  o.Set("ownerLocked", Napi::Boolean::New(env, in.owner_locked));
  o.Set("readerLocked", Napi::Boolean::New(env, in.reader_locked));
  return o;
}

Napi::Value SegmentHandle::UnlinkIfSame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info, 0);
  if (!info[1].IsString()) ThrowArgType(env, "id must be a string");
  std::string id = info[1].As<Napi::String>().Utf8Value();
  size_t colon = id.find(':');
  if (colon == std::string::npos) ThrowArgValue(env, "id must be \"dev:ino\"");
  uint64_t dev = std::strtoull(id.substr(0, colon).c_str(), nullptr, 10);
  uint64_t ino = std::strtoull(id.substr(colon + 1).c_str(), nullptr, 10);
  Status s = smsh::UnlinkIfSame(name, dev, ino);
  if (!s.ok()) ThrowStatus(env, s);
  return env.Undefined();
}

// A lock byte argument: an offset inside the header page.
static uint32_t LockByteArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) ThrowArgType(info.Env(), "byte must be a number");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v < kHeaderSize) || std::floor(v) != v) ThrowOutOfRange(info.Env(), "byte must be inside the header");
  return static_cast<uint32_t>(v);
}

Napi::Value SegmentHandle::Lock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  bool acquired = false;
  Status s = seg.Lock(LockByteArg(info), &acquired);
  if (!s.ok()) ThrowStatus(env, s);
  return Napi::Boolean::New(env, acquired);
}

Napi::Value SegmentHandle::Unlock(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Open(env).Unlock(LockByteArg(info));
  return env.Undefined();
}

Napi::Value SegmentHandle::Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  bool held = false;
  Status s = seg.Probe(LockByteArg(info), &held);
  if (!s.ok()) ThrowStatus(env, s);
  return Napi::Boolean::New(env, held);
}

SegmentHandle* SegmentHandle::FromValue(Napi::Env env, Napi::Value value) {
  static const char* kWhat = "segment must be a SegmentHandle";
  AddonData* data = GetAddonData(env);
  if (data == nullptr || !value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->segment_ctor.Value()))
    ThrowArgType(env, kWhat);
  // instanceof only looks at the prototype chain, and every wrapped object
  // of this addon unwraps: only a pointer that is one of this environment's
  // live segment handles is taken as one.
  void* p = nullptr;
  if (napi_unwrap(env, value, &p) != napi_ok || p == nullptr ||
      data->segments.count(static_cast<SegmentHandle*>(p)) == 0)
    ThrowArgType(env, kWhat);
  return static_cast<SegmentHandle*>(p);
}

Segment& SegmentHandle::Open(Napi::Env env) {
  if (closed()) ThrowCode(env, "ECLOSED", "segment is closed");
  return *seg_;
}

Napi::Value SegmentHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", seg.name());
  o.Set("size", Napi::Number::New(env, static_cast<double>(seg.size())));
  o.Set("dataSize", Napi::Number::New(env, static_cast<double>(seg.data_size())));
  o.Set("kind", Napi::Number::New(env, seg.kind()));
  o.Set("capacity", Napi::Number::New(env, seg.capacity()));
  o.Set("owner", Napi::Boolean::New(env, seg.owner()));
  o.Set("token", HexToken(seg.token()));
  // The object's owner and permission bits (fstat at create/attach): a loan
  // slab's reader checks them (PROTOCOL.md section 3). Windows: null (named
  // objects there are per session, guarded by their DACLs).
#ifdef _WIN32
  o.Set("ownerUid", env.Null());
  o.Set("mode", env.Null());
#else
  o.Set("ownerUid", Napi::Number::New(env, seg.uid()));
  o.Set("mode", Napi::Number::New(env, seg.mode()));
#endif
  return o;
}

// An ArrayBuffer over `length` bytes of the mapping at `offset`, holding the
// mapping (through the table) while it can be reached; *id names its entry.
// Uncounted where the runtime allows it (uncounted_buffer.h: a view of a
// large loan must not cost a garbage collection), else a Node-API external
// buffer whose finalizer releases the entry.
Napi::ArrayBuffer SegmentHandle::External(Napi::Env env, uint64_t offset, uint64_t length, bool uncounted, uint64_t* id) {
  Segment& seg = Open(env);
  static_assert(sizeof(size_t) >= sizeof(uint64_t), "64-bit builds only: sizes are passed as size_t");
  napi_value ab = nullptr;
  // Up to Node 20's buffer.constants.MAX_LENGTH (4 GiB): V8 aborts the
  // process on a length above its own limit, and Node-API below decides,
  // with a catchable error, what this runtime takes beyond that.
  constexpr uint64_t kUncountedMax = uint64_t{1} << 32;
  if (uncounted && length <= kUncountedMax && UncountedBuffersAvailable(env)) {
    BufferTable::Get().Sweep(true);
    std::shared_ptr<void> store;
    if (NewUncountedBuffer(env, seg.base() + offset, static_cast<size_t>(length), &ab, &store)) {
      *id = BufferTable::Get().AddUncounted(seg_, std::move(store), seg.base() + offset, static_cast<size_t>(length));
      return Napi::ArrayBuffer(env, ab);
    }
  }
  // A view (uncounted asked for) is a loan's memory: detachShared may take it.
  *id = uncounted ? BufferTable::Get().AddCounted(seg_, seg.base() + offset, static_cast<size_t>(length))
                  : BufferTable::Get().AddCounted(seg_);
  napi_status st = napi_create_external_arraybuffer(env, seg.base() + offset, static_cast<size_t>(length), FinalizeBuffer,
                                                    reinterpret_cast<void*>(static_cast<uintptr_t>(*id)), &ab);
  if (st != napi_ok) {
    // The finalizer may have run already, may run later, or never: the
    // table entry is dropped exactly once either way.
    BufferTable::Get().Release(*id);
    std::string code;
    std::string why = TakePendingException(env, &code);
    if (st == napi_no_external_buffers_allowed)
      ThrowCode(env, "ENOTSUP",
                "this runtime forbids external ArrayBuffers (Electron >= 21): shared memory "
                "cannot be exposed to JavaScript without copies");
    // Node refuses lengths above buffer.constants.MAX_LENGTH
    // (ERR_BUFFER_TOO_LARGE); anything else is the runtime's failure too.
    ThrowCode(env, "ENOTSUP",
              "this runtime cannot expose " + std::to_string(length) + " bytes of the mapping of " + seg.name() +
                  " as one ArrayBuffer (" + (why.empty() ? "napi status " + std::to_string(st) : why) +
                  (code.empty() ? "" : ", " + code) + ")");
  }
  return Napi::ArrayBuffer(env, ab);
}

Napi::Value SegmentHandle::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  if (!buffer_.IsEmpty()) return buffer_.Value();
  // Counted: made once per segment, so V8's accounting costs at most one
  // collection here; and Node copies, rather than moves, a counted buffer
  // posted to another thread, so a transfer can never take the ring or the
  // segment away from this handle (a received ring message's .buffer is
  // this buffer).
  uint64_t id = 0;  // released by its finalizer
  Napi::ArrayBuffer buffer = External(env, 0, seg.size(), false, &id);
  buffer_ = Napi::Persistent(buffer);
  return buffer;
}

Napi::Value SegmentHandle::View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  const uint64_t offset = SizeArg(info, 0, "offset");
  const uint64_t length = SizeArg(info, 1, "length");
  if (offset > seg.size() || length > seg.size() - offset)
    ThrowOutOfRange(env, "view [" + std::to_string(offset) + ", +" + std::to_string(length) + ") is not within the " +
                             std::to_string(seg.size()) + "-byte mapping");
  uint64_t id = 0;
  Napi::ArrayBuffer ab = External(env, offset, length, true, &id);
  // Weak: the view is the user's; close() detaches it if it is still alive.
  if (views_.size() >= prune_views_at_) {
    std::vector<ViewRef> live;
    for (auto& v : views_) {
      if (v.ref.IsEmpty()) continue;
      Napi::ArrayBuffer b = v.ref.Value();
      // A view detached by a transfer stays known while its memory is in
      // use elsewhere: detachView() must still answer for it.
      if (!b.IsEmpty() && (!b.IsDetached() || !BufferTable::Get().ReleaseIfUnused(v.id))) live.push_back(std::move(v));
    }
    views_ = std::move(live);
    prune_views_at_ = std::max<size_t>(64, views_.size() * 2);
  }
  views_.push_back(ViewRef{Napi::Weak(ab), id});
  return ab;
}

Napi::Value SegmentHandle::DetachView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) ThrowArgType(env, "view must be an ArrayBuffer made by view()");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  // Only views of this handle: never a buffer the user made (it may not be
  // detachable, and detaching it would be our bug reaching into theirs).
  for (auto& view : views_) {
    if (view.ref.IsEmpty()) continue;
    Napi::Value v = view.ref.Value();
    if (!v.IsEmpty() && v.StrictEquals(ab)) {
      if (!ab.IsDetached()) ab.Detach();
      view.ref.Reset();
      // Detached, it no longer holds the memory; but if it was detached
      // before (transferred to a worker, or by transfer()), the buffer that
      // took the memory over may still read it: then a token to ask later.
      if (BufferTable::Get().ReleaseIfUnused(view.id)) return Napi::Number::New(env, 0);
      return Napi::Number::New(env, static_cast<double>(view.id));
    }
  }
  // A view forgotten once detached and unused (pruned), or any buffer
  // detached already: nothing to do, nothing reads through it.
  if (ab.IsDetached()) return Napi::Number::New(env, 0);
  ThrowArgType(env, "view is not a live view of this segment");
  return env.Undefined();
}

Napi::Value SegmentHandle::ViewToken(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) ThrowArgType(env, "view must be an ArrayBuffer made by view()");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  // Newest first: a caller asks right after view().
  for (auto it = views_.rbegin(); it != views_.rend(); ++it) {
    if (it->ref.IsEmpty()) continue;
    Napi::Value v = it->ref.Value();
    if (!v.IsEmpty() && v.StrictEquals(ab)) return Napi::Number::New(env, static_cast<double>(it->id));
  }
  ThrowArgType(env, "view is not a live view of this segment");
  return env.Undefined();
}

Napi::Value SegmentHandle::ViewInUse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint64_t token = SizeArg(info, 0, "token");
  return Napi::Boolean::New(env, token != 0 && !BufferTable::Get().ReleaseIfUnused(token));
}

void SegmentHandle::CloseNow(bool detach) {
  while (!waiters_.empty()) (*waiters_.begin())->CloseNow();
  if (!buffer_.IsEmpty()) {
    if (detach) {
      // Every view over the mapping now reads as length 0 instead of
      // touching unmapped memory.
      Napi::HandleScope scope(Env());
      Napi::ArrayBuffer ab = buffer_.Value();
      if (!ab.IsDetached()) ab.Detach();
    }
    buffer_.Reset();
  }
  for (auto& view : views_) {
    if (detach && !view.ref.IsEmpty()) {
      Napi::HandleScope scope(Env());
      Napi::ArrayBuffer v = view.ref.Value();
      if (!v.IsEmpty() && !v.IsDetached()) v.Detach();
    }
    view.ref.Reset();
  }
  views_.clear();
  if (seg_) {
    if (unlink_on_close_) seg_->Unlink();
    // An uncounted buffer that escaped detaching (collected but not yet
    // swept, not detached at environment teardown, or its memory moved to
    // another buffer or thread by a transfer, which Node allows for these
    // buffers) may still point into the mapping: then it stays mapped until
    // the last one lets go (a later sweep); the descriptor and its locks go
    // now.
    BufferTable::Get().Sweep(false);
    if (BufferTable::Get().Reachable(seg_.get())) {
      seg_->CloseKeepingMapping();
      // The table's entries alone hold the mapping now: the last to go
      // unmaps it, not this handle's collection. What a later unlink()
      // needs is kept by value.
      if (!seg_->unlinked()) closed_name_ = std::make_unique<ClosedName>(ClosedName{seg_->name(), seg_->dev(), seg_->ino()});
      seg_.reset();
    } else {
      seg_->Unmap();
    }
  }
  SyncOwnedName();
  if (doorbell_fd_ >= 0) {
    close(doorbell_fd_);
    doorbell_fd_ = -1;
  }
  // A closed handle lives on until the garbage collector finalizes it, which
  // Node-API defers to the event loop: a synchronous create/close loop piles
  // up every handle it made. Keep only what a closed handle still needs: the
  // core Segment only while unlink() could still remove its name (the
  // ArrayBuffer's finalizer holds its own reference), and no place in the
  // environment's registry (nothing left to close at exit).
  if (seg_ && seg_->unlinked()) seg_.reset();
  if (data_ != nullptr) {
    data_->segments.erase(this);
    data_ = nullptr;
  }
}

void SegmentHandle::UnlinkIfOwned() {
  if (seg_ && seg_->mapped() && unlink_on_close_) seg_->Unlink();
  SyncOwnedName();
}

void SegmentHandle::SyncOwnedName() {
  // After an unlink, not before: a signal in between then finds the name
  // gone (or someone else's object), never a name we stopped covering.
  const bool want = unlink_on_close_ && seg_ && seg_->mapped() && !seg_->unlinked();
  if (want && owned_name_ == nullptr) {
    owned_name_ = RegisterOwnedName(seg_->name(), static_cast<uint64_t>(seg_->dev()), static_cast<uint64_t>(seg_->ino()));
  } else if (!want && owned_name_ != nullptr) {
    UnregisterOwnedName(owned_name_);
    owned_name_ = nullptr;
  }
}

Napi::Value SegmentHandle::Close(const Napi::CallbackInfo& info) {
  CloseNow(true);
  return info.Env().Undefined();
}

Napi::Value SegmentHandle::Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!seg_) {
    if (closed_name_) {
      // Closed while a buffer kept its mapping: the name, if still ours.
      Status s = smsh::UnlinkIfSame(closed_name_->name, static_cast<uint64_t>(closed_name_->dev), static_cast<uint64_t>(closed_name_->ino));
      closed_name_.reset();
      if (!s.ok()) ThrowStatus(env, s);
    }
    return env.Undefined();
  }
  Status s = seg_->Unlink();
  SyncOwnedName();
  if (!s.ok()) ThrowStatus(env, s);
  return env.Undefined();
}

Napi::Value SegmentHandle::SetUnlinkOnClose(const Napi::CallbackInfo& info) {
  unlink_on_close_ = info[0].ToBoolean().Value();
  SyncOwnedName();
  return info.Env().Undefined();
}

Napi::Value SegmentHandle::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed());
}

// The seq word of a wait line: the only words the binding waits on, wakes
// or notifies (anything else in the header is identity, indices or state).
uint32_t* SegmentHandle::WordAt(Napi::Env env, const Napi::Value& offset) {
  Segment& seg = Open(env);
  if (!offset.IsNumber()) ThrowArgType(env, "offset must be a number");
  double v = offset.As<Napi::Number>().DoubleValue();
  if (!(v >= kFirstWaitLineOffset && v <= kLastWaitLineOffset) || std::floor(v) != v ||
      !IsWaitLineOffset(static_cast<uint64_t>(v)))
    ThrowOutOfRange(env, "offset must be the offset of a wait line in the header (" +
                             std::to_string(kFirstWaitLineOffset) + " or " + std::to_string(kLastWaitLineOffset) + ")");
  return reinterpret_cast<uint32_t*>(seg.base() + static_cast<uint64_t>(v));
}

Napi::Value SegmentHandle::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(env, info[0]);
  if (!info[1].IsNumber()) ThrowArgType(env, "expected must be a number");
  uint32_t expected = info[1].As<Napi::Number>().Uint32Value();
  int64_t timeout_ns = -1;  // undefined or Infinity: no limit
  if (!info[2].IsUndefined()) {
    if (!info[2].IsNumber()) ThrowArgType(env, "timeoutMs must be a number");
    double timeout_ms = info[2].As<Napi::Number>().DoubleValue();
    if (!(timeout_ms >= 0)) ThrowOutOfRange(env, "timeoutMs must be a non-negative number or Infinity");
    // Anything beyond ~292 years is no limit too (and int64 nanoseconds).
    if (timeout_ms < 9e12) timeout_ns = static_cast<int64_t>(timeout_ms * 1e6);
  }
  switch (FutexWait(word, expected, timeout_ns)) {
    case WaitResult::kWoken:
      return Napi::String::New(env, "ok");
    case WaitResult::kNotEqual:
      return Napi::String::New(env, "not-equal");
    case WaitResult::kTimedOut:
      return Napi::String::New(env, "timed-out");
  }
  return env.Undefined();
}

Napi::Value SegmentHandle::Wake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(env, info[0]);
  if (!info[1].IsUndefined() && !info[1].IsNumber()) ThrowArgType(env, "count must be a number");
  double count = info[1].IsUndefined() ? INT_MAX : info[1].As<Napi::Number>().DoubleValue();
  int n = count >= INT_MAX || !(count >= 0) ? INT_MAX : static_cast<int>(count);
  return Napi::Number::New(env, FutexWake(word, n));
}

Napi::Value SegmentHandle::OpenWaker(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Open(env);
  if (doorbell_fd_ < 0) {
    int fd = -1;
    Status s = OpenDoorbellSender(&fd);
    if (!s.ok()) ThrowStatus(env, s);
    doorbell_fd_ = fd;
  }
  return env.Undefined();
}

int SegmentHandle::DoorbellSender() {
  if (doorbell_fd_ < 0) {
    int fd = -1;
    if (OpenDoorbellSender(&fd).ok()) doorbell_fd_ = fd;
  }
  return doorbell_fd_;
}

const DoorbellDir& SegmentHandle::Doorbells() {
  if (doorbells_.empty() && seg_) doorbells_ = DoorbellDir(seg_->uid());
  return doorbells_;
}

Napi::Value SegmentHandle::Notify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(env, info[0]);
  uint64_t off = static_cast<uint64_t>(reinterpret_cast<uint8_t*>(word) - seg_->base());
  if (!IsWaitLineOffset(off)) ThrowOutOfRange(env, "notify needs the offset of a wait line in the header");
  auto* line = reinterpret_cast<WaitLine*>(word);
  // Doorbells are only opened when a sleeper asked for one.
  if ((__atomic_load_n(&line->waiting, __ATOMIC_SEQ_CST) & kWaitDoorbell) == 0)
    return Napi::Boolean::New(env, smsh::Notify(line, nullptr));
  const DoorbellTarget bell{DoorbellSender(), &Doorbells(), seg_->token(), static_cast<uint32_t>(off)};
  return Napi::Boolean::New(env, smsh::Notify(line, &bell));
}

}  // namespace smsh
