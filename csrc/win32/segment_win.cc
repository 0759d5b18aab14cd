// segment.h on Windows: a pagefile-backed named file mapping in the
// session's namespace, "Local\synaptic-shm.<name>", created with an
// owner-only DACL. What differs from POSIX (docs/ARCHITECTURE.md, Windows):
//   - a mapping lives while any process holds a handle or a view of it, its
//     name while any process holds a handle: there is nothing to sweep, and
//     a name is free again once every user closed its handle. Unlink cannot remove the name early;
//     it marks the header removed (kMagicRemoved), so that an attach after it
//     fails with ENOENT as on Linux, while the name stays taken (EEXIST);
//   - the object's size is learnt from the view (VirtualQuery), rounded up
//     to a page: the header's sizes are checked against it before any byte
//     past the header is touched, so a short or foreign mapping is refused;
//   - liveness marks are named mutexes (one per lock byte, named by the
//     segment's token): the kernel abandons a mutex whose owning thread or
//     process ends, however it ended, which is what an OFD lock gives on
//     Linux. A mutex is owned by a thread: Lock and Unlock of one byte must
//     come from the same thread (the JavaScript thread that owns the handle);
//   - wait lines wake through named semaphores (futex_win.cc), opened here
//     and registered under the line's address.
#ifdef _WIN32

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "futex.h"
#include "proc.h"
#include "segment.h"
#include "win32.h"

namespace smsh {

namespace {

// Names of the lock mutexes some Segment of this process holds. A second
// Segment of the same object in this process must see the lock as taken
// (as another open file description does on Linux), but a mutex is
// recursive for the thread that owns it: this set answers instead.
std::mutex g_held_mu;
std::set<std::wstring> g_held;

// Any byte of the header page, as on Linux (the binding checks the same): 0 owner, 1 reader, 256 + i a
// broadcast ring's subscriber slot i (PROTOCOL §6).
bool ValidLockByte(uint32_t byte) { return byte < kHeaderSize; }

std::wstring LockName(const uint8_t* token, uint32_t byte) {
  return ObjectName(TokenHex(token) + ".lock" + std::to_string(byte));
}

std::wstring WakeName(const uint8_t* token, uint32_t line_offset) {
  return ObjectName(TokenHex(token) + ".wake" + std::to_string(line_offset));
}

constexpr uint32_t kWakeLines = 2;  // reader_wait, writer_wait
uint32_t WakeLineOffset(uint32_t i) { return kFirstWaitLineOffset + i * kLineSize; }
static_assert(kFirstWaitLineOffset + (kWakeLines - 1) * kLineSize == kLastWaitLineOffset, "wait lines");

// The size of the view at `base` (the whole mapping, rounded up to pages).
uint64_t ViewSize(const void* base) {
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(base, &mbi, sizeof(mbi)) == 0) return 0;
  return static_cast<uint64_t>(mbi.RegionSize);
}

void Prefault(uint8_t* base, uint64_t size) {
  // Touch every page once: the page tables are filled now, not at the
  // first message (what MAP_POPULATE does on Linux).
  volatile uint8_t sink = 0;
  for (uint64_t off = 0; off < size; off += 4096) sink = sink + base[off];
  (void)sink;
}

// The failure of creating or opening one of a segment's named objects: a
// name held by another kind of object (ERROR_INVALID_HANDLE) means someone
// made it on purpose or by accident; nothing of ours can use it.
Status ObjectStatus(DWORD err, const char* call, const char* what) {
  if (err == ERROR_INVALID_HANDLE)
    return Status::Own("ECORRUPT", std::string(what) + ": its name is held by another kind of object");
  return WinStatus(err, call, what);
}

// Opens (or creates) the wake semaphores of the segment's wait lines and
// registers them under the lines' seq words.
Status OpenWakes(uint8_t* base, const uint8_t* token, void* (&wakes)[2]) {
  for (uint32_t i = 0; i < kWakeLines; i++) {
    HANDLE h = CreateSemaphoreW(OwnerOnly(), 0, 0x7fffffff, WakeName(token, WakeLineOffset(i)).c_str());
    if (h == nullptr) return ObjectStatus(GetLastError(), "CreateSemaphoreW", "wake line");
    wakes[i] = h;
    RegisterWakeWord(reinterpret_cast<uint32_t*>(base + WakeLineOffset(i)), h);
  }
  return Status::Ok();
}

}  // namespace

void Segment::CloseHandles() {
  while (!locks_.empty()) Unlock(locks_.begin()->first);
  for (uint32_t i = 0; i < kWakeLines; i++) {
    if (wakes_[i] == nullptr) continue;
    if (base_ != nullptr) UnregisterWakeWord(reinterpret_cast<uint32_t*>(base_ + WakeLineOffset(i)));
    CloseHandle(wakes_[i]);
    wakes_[i] = nullptr;
  }
  if (mapping_ != nullptr) {
    CloseHandle(mapping_);
    mapping_ = nullptr;
  }
}

Status Segment::Create(const CreateOptions& opts, std::unique_ptr<Segment>* out) {
  Status valid = ValidateCreateOptions(opts);
  if (!valid.ok()) return valid;
  const uint64_t total = kHeaderSize + opts.data_size;
  const std::wstring wname = ObjectName(opts.name);
  const std::string what = std::string(kObjectPrefix) + opts.name;
  // A pagefile-backed section commits its whole size now: a full commit
  // limit is ERROR_COMMITMENT_LIMIT (ENOSPC) here, never a fault later.
  HANDLE mapping = CreateFileMappingW(INVALID_HANDLE_VALUE, OwnerOnly(), PAGE_READWRITE,
                                      static_cast<DWORD>(total >> 32), static_cast<DWORD>(total), wname.c_str());
  if (mapping == nullptr) {
    DWORD err = GetLastError();
    // The name is some other kind of object (an event, a mutex...).
    if (err == ERROR_INVALID_HANDLE) return Status::FromErrno(EEXIST, "CreateFileMappingW", what + " (another kind of object)");
    return WinStatus(err, "CreateFileMappingW", what);
  }
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    CloseHandle(mapping);
    return Status::FromErrno(EEXIST, "CreateFileMappingW", what);
  }
  void* base = MapViewOfFile(mapping, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, static_cast<SIZE_T>(total));
  if (base == nullptr) {
    Status s = WinStatus(GetLastError(), "MapViewOfFile", what);
    CloseHandle(mapping);
    return s;
  }
  std::unique_ptr<Segment> seg(new Segment());
  seg->name_ = opts.name;
  seg->mapping_ = mapping;
  seg->base_ = static_cast<uint8_t*>(base);
  seg->size_ = total;
  seg->kind_ = opts.kind;
  seg->capacity_ = opts.capacity;
  seg->owner_ = true;
  Status s = RandomBytes(seg->token_, kTokenSize);
  if (!s.ok()) return s;  // ~Segment unmaps and closes
  // The owner's liveness mark, taken before the header can look valid.
  bool locked = false;
  s = seg->Lock(kOwnerLockByte, &locked);
  if (!s.ok()) return s;
  if (!locked) return Status::Own("EBUSY", what + ": owner lock already held");
  s = OpenWakes(seg->base_, seg->token_, seg->wakes_);
  if (!s.ok()) return s;
  if (opts.prefault) Prefault(seg->base_, total);

  // A new section is zero-filled. The acquire that pairs with the magic's
  // release is an attacher's copy of the header out of its view.
  PublishHeader(seg->header(), opts, seg->token_);
  *out = std::move(seg);
  return Status::Ok();
}

namespace {

// Opens and maps the whole of "Local\synaptic-shm.<name>", and copies and
// validates its header against the view's real size. On success the caller
// owns *mapping and *base (UnmapViewOfFile, CloseHandle).
Status OpenAndValidate(const std::string& name, DWORD access, HANDLE* mapping, uint8_t** base, uint64_t* view_size,
                       Header* h, Status* validity) {
  const std::string what = std::string(kObjectPrefix) + name;
  HANDLE m = OpenFileMappingW(access, FALSE, ObjectName(name).c_str());
  if (m == nullptr) {
    DWORD err = GetLastError();
    if (err == ERROR_INVALID_HANDLE) return Status::Own("ECORRUPT", what + " is not a file mapping (another kind of object)");
    return WinStatus(err, "OpenFileMappingW", what);
  }
  // Size 0 maps the whole section, whatever it is: only address space.
  void* v = MapViewOfFile(m, access, 0, 0, 0);
  if (v == nullptr) {
    Status s = WinStatus(GetLastError(), "MapViewOfFile", what);
    CloseHandle(m);
    return s;
  }
  const uint64_t size = ViewSize(v);
  // One copy, validated as a whole: another process may change the header
  // under us, and nothing read twice from it is trusted twice.
  *h = Header();
  if (size >= sizeof(Header)) std::memcpy(h, v, sizeof(Header));
  if (size < sizeof(Header)) {
    *validity = Status::Own("ECORRUPT", what + " is shorter than a segment header");
  } else {
    *validity = ValidateHeader(*h, size);
    if (!validity->ok()) validity->message += " (" + what + ")";
  }
  *mapping = m;
  *base = static_cast<uint8_t*>(v);
  *view_size = size;
  return Status::Ok();
}

}  // namespace

Status Segment::Attach(const std::string& name, std::unique_ptr<Segment>* out, bool prefault, int expected_kind) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "OpenFileMappingW", "invalid name");
  HANDLE mapping = nullptr;
  uint8_t* base = nullptr;
  uint64_t view_size = 0;
  Header h;
  Status validity;
  Status s = OpenAndValidate(name, FILE_MAP_READ | FILE_MAP_WRITE, &mapping, &base, &view_size, &h, &validity);
  if (!s.ok()) return s;
  auto fail = [&](Status st) {
    UnmapViewOfFile(base);
    CloseHandle(mapping);
    return st;
  };
  if (!validity.ok()) return fail(validity);
  if (expected_kind >= 0 && h.kind != static_cast<uint32_t>(expected_kind))
    return fail(Status::Own("ECORRUPT", std::string(kObjectPrefix) + name + " is a segment of kind " +
                                            std::to_string(h.kind) + ", not " + std::to_string(expected_kind)));
  std::unique_ptr<Segment> seg(new Segment());
  seg->name_ = name;
  seg->mapping_ = mapping;
  seg->base_ = base;
  seg->size_ = h.segment_size;
  seg->kind_ = h.kind;
  seg->capacity_ = h.capacity;
  std::memcpy(seg->token_, h.token, kTokenSize);
  seg->owner_ = false;
  s = OpenWakes(seg->base_, seg->token_, seg->wakes_);
  if (!s.ok()) return s;
  if (prefault) Prefault(seg->base_, seg->size_);
  *out = std::move(seg);
  return Status::Ok();
}

Status Segment::Unlink() {
  if (unlinked_) return Status::Ok();
  // The mapping and its name go with the last handle; until then, later
  // attaches must find it gone, as after shm_unlink. SYNC POINT: release;
  // an attacher's copy of the header is read after it (PROTOCOL §5).
  if (base_ != nullptr) __atomic_store_n(&header()->magic, kMagicRemoved, __ATOMIC_RELEASE);
  unlinked_ = true;
  return Status::Ok();
}

Status Segment::Lock(uint32_t byte, bool* acquired) {
  *acquired = false;
  if (mapping_ == nullptr) return Status::Own("ECLOSED", "segment is closed");
  if (!ValidLockByte(byte)) return Status::FromErrno(EINVAL, "CreateMutexW", "lock byte " + std::to_string(byte));
  if (locks_.count(byte) != 0) {
    *acquired = true;  // ours already (an OFD lock taken twice is one lock)
    return Status::Ok();
  }
  const std::wstring name = LockName(token_, byte);
  {
    std::lock_guard<std::mutex> g(g_held_mu);
    if (g_held.count(name) != 0) return Status::Ok();  // another Segment of this process holds it
  }
  HANDLE m = CreateMutexW(OwnerOnly(), FALSE, name.c_str());
  if (m == nullptr) return ObjectStatus(GetLastError(), "CreateMutexW", "liveness lock");
  // A prober (Probe, below) owns the mutex for a few microseconds while it
  // looks: retry for a while before deciding a live holder has it.
  DWORD rc = WAIT_TIMEOUT;
  for (int i = 0; i < 20 && rc == WAIT_TIMEOUT; i++) {
    rc = WaitForSingleObject(m, 0);
    if (rc == WAIT_TIMEOUT) Sleep(1);
  }
  if (rc != WAIT_OBJECT_0 && rc != WAIT_ABANDONED) {
    CloseHandle(m);
    return Status::Ok();
  }
  {
    std::lock_guard<std::mutex> g(g_held_mu);
    g_held.insert(name);
  }
  locks_[byte] = m;
  *acquired = true;
  return Status::Ok();
}

void Segment::Unlock(uint32_t byte) {
  auto it = locks_.find(byte);
  if (it == locks_.end()) return;
  // Only the owning thread can release; from any other thread the mutex
  // stays owned until that thread ends (then it is abandoned: "gone").
  ReleaseMutex(it->second);
  CloseHandle(it->second);
  locks_.erase(it);
  std::lock_guard<std::mutex> g(g_held_mu);
  g_held.erase(LockName(token_, byte));
}

namespace {

Status ProbeLock(const uint8_t* token, uint32_t byte, bool* held) {
  *held = false;
  const std::wstring name = LockName(token, byte);
  {
    std::lock_guard<std::mutex> g(g_held_mu);
    if (g_held.count(name) != 0) {
      *held = true;
      return Status::Ok();
    }
  }
  HANDLE m = OpenMutexW(SYNCHRONIZE, FALSE, name.c_str());
  if (m == nullptr) {
    DWORD err = GetLastError();
    if (err == ERROR_FILE_NOT_FOUND) return Status::Ok();  // nobody ever took it, or every holder is gone
    return ObjectStatus(err, "OpenMutexW", "liveness lock");
  }
  DWORD rc = WaitForSingleObject(m, 0);
  if (rc == WAIT_TIMEOUT) {
    *held = true;  // a live thread owns it
  } else if (rc == WAIT_OBJECT_0 || rc == WAIT_ABANDONED) {
    ReleaseMutex(m);  // free (or its holder died): give it back at once
  }
  CloseHandle(m);
  return Status::Ok();
}

}  // namespace

Status Segment::Probe(uint32_t byte, bool* held) {
  *held = false;
  if (mapping_ == nullptr) return Status::Own("ECLOSED", "segment is closed");
  if (!ValidLockByte(byte)) return Status::FromErrno(EINVAL, "OpenMutexW", "lock byte " + std::to_string(byte));
  if (locks_.count(byte) != 0) return Status::Ok();  // our own lock is not "another holder"
  return ProbeLock(token_, byte, held);
}

Status Inspect(const std::string& name, Inspection* out) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "OpenFileMappingW", "invalid name");
  HANDLE mapping = nullptr;
  uint8_t* base = nullptr;
  uint64_t view_size = 0;
  *out = Inspection();
  Status s = OpenAndValidate(name, FILE_MAP_READ, &mapping, &base, &view_size, &out->header, &out->validity);
  if (!s.ok()) return s;
  UnmapViewOfFile(base);
  CloseHandle(mapping);
  out->size = view_size;
  out->mode = 0600;  // the owner-only DACL
  if (out->validity.ok()) {
    s = ProbeLock(out->header.token, kOwnerLockByte, &out->owner_locked);
    if (s.ok()) s = ProbeLock(out->header.token, kReaderLockByte, &out->reader_locked);
  }
  return s;
}

Status UnlinkIfSame(const std::string& name, uint64_t, uint64_t) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "UnlinkIfSame", "invalid name");
  return Status::Ok();  // nothing on Windows outlives its last handle
}

void Segment::Unmap() {
  CloseHandles();
  if (base_ != nullptr && !kept_) {
    UnmapViewOfFile(base_);
    base_ = nullptr;
  }
}

void Segment::CloseKeepingMapping() {
  // The view keeps the section alive for the buffers; the locks go now, so
  // a peer sees us gone.
  CloseHandles();
  if (base_ != nullptr) kept_ = true;
}

Segment::~Segment() {
  kept_ = false;
  Unmap();
}

}  // namespace smsh

#endif  // _WIN32
