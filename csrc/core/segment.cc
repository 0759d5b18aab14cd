// The platform-neutral part of segment.h: names, create options and the
// header validation every attach runs. The objects themselves are in
// segment_posix.cc (POSIX shared memory) and segment_win.cc (Windows
// pagefile-backed named mappings).
#include <cerrno>
#include <cstring>

#include "proc.h"
#include "segment.h"

namespace smsh {

namespace {

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool IsAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Whether `name` starts with `prefix` (lower case), ignoring case.
bool StartsWithNoCase(const std::string& name, const char* prefix) {
  size_t i = 0;
  for (; prefix[i] != '\0'; i++) {
    if (i >= name.size() || Lower(name[i]) != prefix[i]) return false;
  }
  return true;
}

// CON, PRN, AUX, NUL, COM0-9, LPT0-9, alone or before a '.', any case:
// Windows cannot use them as file names.
bool IsWindowsDeviceName(const std::string& name) {
  size_t stem = name.find('.');
  if (stem == std::string::npos) stem = name.size();
  if (stem == 3) {
    for (const char* d : {"con", "prn", "aux", "nul"})
      if (StartsWithNoCase(name, d)) return true;
  }
  if (stem == 4 && name[3] >= '0' && name[3] <= '9') {
    for (const char* d : {"com", "lpt"})
      if (StartsWithNoCase(name, d)) return true;
  }
  return false;
}

}  // namespace

bool IsValidName(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || !IsAlnum(name[0])) return false;
  for (char c : name) {
    if (!IsAlnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  // glibc keeps POSIX named semaphores in /dev/shm as "sem.<name>".
  if (StartsWithNoCase(name, "sem.")) return false;
  return !IsWindowsDeviceName(name);
}

Status ValidateHeader(const Header& h, uint64_t object_size) {
  if (h.magic == 0)
    return Status::Own("EAGAIN", "segment is not initialised yet (creator still running, or empty)");
  if (h.magic == kMagicRemoved)
    return Status::Own("ENOENT", "segment was removed (unlinked); the processes that have it open go on using it");
  if (h.magic != kMagic) return Status::Own("ECORRUPT", "not a synaptic-mesh segment (bad magic)");
  if (h.version != kLayoutVersion)
    return Status::Own("EVERSION", "unsupported layout version " + std::to_string(h.version) +
                                       " (this build reads " + std::to_string(kLayoutVersion) + ")");
  if (h.header_size != kHeaderSize) return Status::Own("ECORRUPT", "bad header size");
  if (h.data_size == 0 || h.data_size > kMaxSegmentSize - kHeaderSize ||
      h.segment_size != kHeaderSize + h.data_size)
    return Status::Own("ECORRUPT", "inconsistent segment sizes in header");
  if (object_size < h.segment_size)
    return Status::Own("ECORRUPT", "segment is truncated: header says " +
                                       std::to_string(h.segment_size) + " bytes, object has " +
                                       std::to_string(object_size));
  if (h.kind == kKindRing) {
    if (!IsPowerOfTwo(h.capacity) || h.capacity > kMaxCapacity)
      return Status::Own("ECORRUPT", "bad ring capacity in header");
    // Rings are created with data_size == capacity. Anything larger is not
    // ours, and a hostile one (a sparse object claiming terabytes) would map
    // more than the runtime can expose.
    if (h.data_size != h.capacity)
      return Status::Own("ECORRUPT", "ring data size " + std::to_string(h.data_size) +
                                         " differs from its capacity " + std::to_string(h.capacity));
  } else if (h.kind == kKindPlain || h.kind == kKindPool) {
    // A slab's geometry (loan line) is checked by whoever uses it.
    if (h.capacity != 0) return Status::Own("ECORRUPT", "plain segment with a ring capacity");
  } else {
    return Status::Own("ECORRUPT", "unknown segment kind " + std::to_string(h.kind));
  }
  return Status::Ok();
}

void PublishHeader(Header* h, const CreateOptions& opts, const uint8_t* token) {
  h->version = kLayoutVersion;
  h->header_size = kHeaderSize;
  h->kind = opts.kind;
  h->segment_size = kHeaderSize + opts.data_size;
  h->data_size = opts.data_size;
  h->capacity = opts.capacity;
  h->flags = kFlagLocks;
  h->owner_pid = SelfPid();
  h->owner_start_time = SelfStartTime();
  h->created_ns = RealtimeNs();
  std::memcpy(h->token, token, kTokenSize);
  h->writer_state = opts.kind == kKindRing ? kSideOpen : kSideAbsent;
  // SYNC POINT: release; pairs with an attacher's read of the header.
  __atomic_store_n(&h->magic, kMagic, __ATOMIC_RELEASE);
}

Status ValidateCreateOptions(const CreateOptions& opts) {
  if (!IsValidName(opts.name)) return Status::FromErrno(EINVAL, "shm_open", "invalid name");
  if (opts.data_size == 0 || opts.data_size > kMaxSegmentSize - kHeaderSize)
    return Status::FromErrno(EINVAL, "ftruncate", "size out of range");
  if (opts.kind != kKindPlain && opts.kind != kKindRing && opts.kind != kKindPool)
    return Status::FromErrno(EINVAL, "shm_open", "unknown segment kind " + std::to_string(opts.kind));
  if (opts.kind == kKindRing &&
      (!IsPowerOfTwo(opts.capacity) || opts.capacity != opts.data_size || opts.capacity > kMaxCapacity))
    return Status::FromErrno(EINVAL, "shm_open", "ring capacity must be a power of two <= 2^31 equal to the data size");
  if (opts.kind != kKindRing && opts.capacity != 0)
    return Status::FromErrno(EINVAL, "shm_open", "capacity given for a plain segment");
  return Status::Ok();
}

}  // namespace smsh
