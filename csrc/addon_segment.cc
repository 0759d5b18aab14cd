#include "addon_segment.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <climits>
#include <cmath>
#include <string>

#include <unistd.h>

#include "addon_data.h"
#include "addon_error.h"
#include "addon_waiter.h"
#include "doorbell.h"
#include "futex.h"
#include "notify.h"

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

// Arguments are validated in lib/segment.ts; these checks only keep a
// direct caller of the binding from reaching the core with nonsense.
std::string NameArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "name must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

uint64_t SizeArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v)
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative integer");
  return static_cast<uint64_t>(v);
}

void FinalizeBuffer(Napi::Env, void*, std::shared_ptr<Segment>* hint) { delete hint; }

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
                         InstanceMethod<&SegmentHandle::Close>("close"),
                         InstanceMethod<&SegmentHandle::Unlink>("unlink"),
                         InstanceMethod<&SegmentHandle::SetUnlinkOnClose>("setUnlinkOnClose"),
                         InstanceMethod<&SegmentHandle::Closed>("closed"),
                         InstanceMethod<&SegmentHandle::Wait>("wait"),
                         InstanceMethod<&SegmentHandle::Wake>("wake"),
                         InstanceMethod<&SegmentHandle::Notify>("notify"),
                     });
}

SegmentHandle::SegmentHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SegmentHandle>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "SegmentHandle is made by create() or attach()");
  seg_.reset(info[0].As<Napi::External<Segment>>().Data());
  unlink_on_close_ = seg_->owner();
  data_ = GetAddonData(info.Env());
  data_->segments.insert(this);
}

SegmentHandle::~SegmentHandle() {
  // GC finalizer backstop. The environment may be gone at process exit
  // (then the cleanup hook already closed us), so do no N-API work here.
  while (!waiters_.empty()) (*waiters_.begin())->CloseNow();
  if (seg_ && seg_->mapped()) {
    if (unlink_on_close_) seg_->Unlink();
    // The ArrayBuffer, if still alive, keeps the mapping through seg_.
  }
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
  return obj;
}

Napi::Value SegmentHandle::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::unique_ptr<Segment> seg;
  Status s = Segment::Attach(NameArg(info, 0), &seg, info[1].ToBoolean().Value());
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
  if (!info[1].IsString()) throw Napi::TypeError::New(env, "id must be a string");
  std::string id = info[1].As<Napi::String>().Utf8Value();
  size_t colon = id.find(':');
  if (colon == std::string::npos) throw Napi::TypeError::New(env, "id must be \"dev:ino\"");
  uint64_t dev = std::strtoull(id.substr(0, colon).c_str(), nullptr, 10);
  uint64_t ino = std::strtoull(id.substr(colon + 1).c_str(), nullptr, 10);
  Status s = smsh::UnlinkIfSame(name, dev, ino);
  if (!s.ok()) ThrowStatus(env, s);
  return env.Undefined();
}

// A lock byte argument: an offset inside the header page.
static uint32_t LockByteArg(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "byte must be a number");
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v < kHeaderSize) || std::floor(v) != v) throw Napi::RangeError::New(info.Env(), "byte must be inside the header");
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
  return o;
}

Napi::Value SegmentHandle::Buffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Segment& seg = Open(env);
  if (!buffer_.IsEmpty()) return buffer_.Value();
  napi_value ab;
  auto* hint = new std::shared_ptr<Segment>(seg_);
  napi_status st = napi_create_external_arraybuffer(
      env, seg.base(), static_cast<size_t>(seg.size()),
      [](napi_env e, void* data, void* h) { FinalizeBuffer(Napi::Env(e), data, static_cast<std::shared_ptr<Segment>*>(h)); },
      hint, &ab);
  if (st != napi_ok) {
    delete hint;
    if (st == napi_no_external_buffers_allowed)
      ThrowCode(env, "ENOTSUP",
                "this runtime forbids external ArrayBuffers (Electron >= 21): shared memory "
                "cannot be exposed to JavaScript without copies");
    NAPI_THROW_IF_FAILED(env, st, Napi::Value());
  }
  Napi::ArrayBuffer buffer(env, ab);
  buffer_ = Napi::Persistent(buffer);
  return buffer;
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
  if (seg_) {
    if (unlink_on_close_) seg_->Unlink();
    seg_->Unmap();
  }
  if (doorbell_fd_ >= 0) {
    close(doorbell_fd_);
    doorbell_fd_ = -1;
  }
}

Napi::Value SegmentHandle::Close(const Napi::CallbackInfo& info) {
  CloseNow(true);
  return info.Env().Undefined();
}

Napi::Value SegmentHandle::Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!seg_) return env.Undefined();
  Status s = seg_->Unlink();
  if (!s.ok()) ThrowStatus(env, s);
  return env.Undefined();
}

Napi::Value SegmentHandle::SetUnlinkOnClose(const Napi::CallbackInfo& info) {
  unlink_on_close_ = info[0].ToBoolean().Value();
  return info.Env().Undefined();
}

Napi::Value SegmentHandle::Closed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed());
}

uint32_t* SegmentHandle::WordAt(Napi::Env env, const Napi::Value& offset) {
  Segment& seg = Open(env);
  if (!offset.IsNumber()) throw Napi::TypeError::New(env, "offset must be a number");
  double v = offset.As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || std::floor(v) != v || v + 4 > static_cast<double>(seg.size()))
    throw Napi::RangeError::New(env, "offset is outside the segment");
  uint64_t off = static_cast<uint64_t>(v);
  if (off % 4 != 0) throw Napi::RangeError::New(env, "offset must be a multiple of 4");
  return reinterpret_cast<uint32_t*>(seg.base() + off);
}

Napi::Value SegmentHandle::Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t* word = WordAt(env, info[0]);
  uint32_t expected = info[1].ToNumber().Uint32Value();
  double timeout_ms = info[2].IsUndefined() ? -1 : info[2].ToNumber().DoubleValue();
  int64_t timeout_ns = -1;
  if (timeout_ms >= 0 && std::isfinite(timeout_ms)) timeout_ns = static_cast<int64_t>(timeout_ms * 1e6);
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
  double count = info[1].IsUndefined() ? INT_MAX : info[1].ToNumber().DoubleValue();
  int n = count >= INT_MAX || !(count >= 0) ? INT_MAX : static_cast<int>(count);
  return Napi::Number::New(env, FutexWake(word, n));
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
  if (off % kLineSize != 0 || off + sizeof(WaitLine) > kHeaderSize)
    throw Napi::RangeError::New(env, "notify needs the offset of a wait line in the header");
  auto* line = reinterpret_cast<WaitLine*>(word);
  // Doorbells are only opened when a sleeper asked for one.
  if ((__atomic_load_n(&line->waiting, __ATOMIC_SEQ_CST) & kWaitDoorbell) == 0)
    return Napi::Boolean::New(env, smsh::Notify(line, nullptr));
  const DoorbellTarget bell{DoorbellSender(), &Doorbells(), seg_->token(), static_cast<uint32_t>(off)};
  return Napi::Boolean::New(env, smsh::Notify(line, &bell));
}

}  // namespace smsh
