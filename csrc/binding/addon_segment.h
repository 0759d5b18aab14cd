// SegmentHandle: the JavaScript face of a core Segment. It converts
// arguments and errors and owns the one ArrayBuffer over the mapping;
// lib/core/segment.ts adds validation and the public API.
#pragma once

#include <napi.h>

#include <memory>
#include <set>
#include <vector>

#include "doorbell.h"
#include "segment.h"

namespace smsh {

class WaiterHandle;
struct AddonData;
struct OwnedName;

class SegmentHandle : public Napi::ObjectWrap<SegmentHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit SegmentHandle(const Napi::CallbackInfo& info);
  ~SegmentHandle() override;

  // The handle behind a JavaScript value; TypeError ERR_INVALID_ARG_TYPE
  // for anything else (including an object that only inherits from it).
  static SegmentHandle* FromValue(Napi::Env env, Napi::Value value);
  // Throws ECLOSED if closed; otherwise the mapped core segment.
  Segment& Open(Napi::Env env);
  bool closed() const { return !seg_ || !seg_->mapped(); }
  void AddWaiter(WaiterHandle* w) { waiters_.insert(w); }
  void RemoveWaiter(WaiterHandle* w) { waiters_.erase(w); }
  // Doorbell sender socket, opened on first use; -1 if it cannot be.
  int DoorbellSender();
  // The directory of this segment's doorbells (its owner's), derived on
  // first use from the object's uid.
  const DoorbellDir& Doorbells();
  // Closes waiters, detaches the ArrayBuffer (unless the environment is
  // being torn down), unlinks if asked, unmaps, then lets go of what a
  // closed handle no longer needs. Idempotent.
  void CloseNow(bool detach);
  // Called when the environment's AddonData is destroyed before us.
  void ForgetAddonData() { data_ = nullptr; }
  // At exit: unlinks the name if close() would (the owner's). The mapping stays.
  void UnlinkIfOwned();

 private:
  static Napi::Value Create(const Napi::CallbackInfo& info);
  static Napi::Value Attach(const Napi::CallbackInfo& info);
  static Napi::Value Inspect(const Napi::CallbackInfo& info);
  static Napi::Value UnlinkIfSame(const Napi::CallbackInfo& info);
  Napi::Value Lock(const Napi::CallbackInfo& info);
  Napi::Value Unlock(const Napi::CallbackInfo& info);
  Napi::Value Probe(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Buffer(const Napi::CallbackInfo& info);
  // view(offset, length): an ArrayBuffer of its own over part of the
  // mapping (a loan); detachView(ab) detaches one now; close() detaches all.
  Napi::Value View(const Napi::CallbackInfo& info);
  // detachView(ab) returns 0, or a token while a buffer that took the
  // memory over by a transfer may still read it; viewInUse(token) says
  // whether one still may.
  Napi::Value DetachView(const Napi::CallbackInfo& info);
  Napi::Value ViewInUse(const Napi::CallbackInfo& info);
  Napi::Value ViewToken(const Napi::CallbackInfo& info);
  Napi::ArrayBuffer External(Napi::Env env, uint64_t offset, uint64_t length, bool uncounted, uint64_t* id);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Unlink(const Napi::CallbackInfo& info);
  Napi::Value SetUnlinkOnClose(const Napi::CallbackInfo& info);
  Napi::Value Closed(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Wake(const Napi::CallbackInfo& info);
  Napi::Value Notify(const Napi::CallbackInfo& info);
  // Opens the doorbell sender now (EMFILE here, not a lost wake-up later).
  Napi::Value OpenWaker(const Napi::CallbackInfo& info);
  uint32_t* WordAt(Napi::Env env, const Napi::Value& offset);
  // Keeps the name in the signal-cleanup registry (signal_cleanup.h) exactly
  // while close() would unlink it: open, not yet unlinked, unlink_on_close_.
  void SyncOwnedName();

  // Shared with the ArrayBuffer's finalizer: the mapping outlives this
  // object while user code still holds the buffer.
  std::shared_ptr<Segment> seg_;
  AddonData* data_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  struct ViewRef {
    Napi::Reference<Napi::ArrayBuffer> ref;  // weak
    uint64_t id;                             // its BufferTable entry
  };
  std::vector<ViewRef> views_;
  // Closed with its mapping kept for buffers (seg_ dropped): the object's
  // identity, for unlink() after close.
  struct ClosedName {
    std::string name;
    uint64_t dev;
    uint64_t ino;
  };
  std::unique_ptr<ClosedName> closed_name_;
  size_t prune_views_at_ = 64;
  std::set<WaiterHandle*> waiters_;
  int doorbell_fd_ = -1;
  DoorbellDir doorbells_;
  bool unlink_on_close_ = false;
  OwnedName* owned_name_ = nullptr;
};

}  // namespace smsh
