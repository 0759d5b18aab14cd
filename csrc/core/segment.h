// A named shared-memory segment: a layout-v1 header page followed by a data
// region, mapped read-write into this process. The creator initialises the
// header; an attacher validates it against the object's real size before it
// maps anything, so a short, foreign or garbage object is an error, never a
// SIGBUS or an out-of-bounds read.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "layout.h"
#include "status.h"

namespace smsh {

// Longest segment name: macOS limits shm names to 31 bytes including '/'.
constexpr size_t kMaxNameLength = 30;

// Names are 1..30 characters of [A-Za-z0-9._-] starting with a letter or a
// digit; not "sem.*" in any case (glibc's POSIX semaphores in /dev/shm), and
// not a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, in any case,
// alone or with an extension such as "CON.txt"). The object is "/<name>"
// (on Linux, the file /dev/shm/<name>).
bool IsValidName(const std::string& name);

struct CreateOptions {
  std::string name;        // must be valid and not exist yet
  uint64_t data_size = 0;  // bytes after the header page, >= 1
  uint32_t kind = kKindPlain;
  uint32_t capacity = 0;   // kKindRing: power of two <= 2^31, == data_size
  bool prefault = false;   // map with MAP_POPULATE: no page faults on first touch
};

class Segment {
 public:
  // O_CREAT|O_EXCL, mode 0600, memory reserved with posix_fallocate (a full
  // /dev/shm is ENOSPC here, not SIGBUS later), header initialised and
  // published by storing the magic last.
  static Status Create(const CreateOptions& opts, std::unique_ptr<Segment>* out);
  // Opens an existing segment read-write and validates its header.
  // prefault: map with MAP_POPULATE (the page tables are filled up front).
  // expected_kind >= 0: a segment of another kind is ECORRUPT before anything
  // is mapped (a channel must not prefault a plain object of any size).
  static Status Attach(const std::string& name, std::unique_ptr<Segment>* out, bool prefault = false,
                       int expected_kind = -1);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Removes the name, if it still refers to this segment's object (a name
  // that was unlinked and re-created by someone else, or taken by a FIFO or
  // a symlink, is left alone). Never blocks and, on Linux, needs no file
  // descriptor (it works at the descriptor limit). Mappings stay valid
  // until Unmap. Safe to call twice.
  Status Unlink();
  // munmap and close; afterwards base() is nullptr. Safe to call twice.
  void Unmap();
  // Releases every lock and closes the descriptor, and reports the segment
  // unmapped, but leaves the memory mapped until the destructor: for a
  // mapping some buffer may still point into (buffer_table.h).
  void CloseKeepingMapping();

  // OFD write lock on one byte of the object (liveness.h); *acquired =
  // false if someone else holds it. Released by Unlock, Unmap or death.
  Status Lock(uint32_t byte, bool* acquired);
  void Unlock(uint32_t byte);
  // Whether another open file description (a live process) holds `byte`.
  Status Probe(uint32_t byte, bool* held);

  bool mapped() const { return base_ != nullptr && !kept_; }
  uint8_t* base() const { return base_; }
  Header* header() const { return reinterpret_cast<Header*>(base_); }
  // Sizes as validated at create/attach; never re-read from shared memory.
  uint64_t size() const { return size_; }
  uint64_t data_size() const { return size_ - kHeaderSize; }
  uint32_t kind() const { return kind_; }
  uint32_t capacity() const { return capacity_; }
  const uint8_t* token() const { return token_; }
  const std::string& name() const { return name_; }
  bool owner() const { return owner_; }
  bool unlinked() const { return unlinked_; }
  // Identity of the object (fstat at create/attach), as Unlink checks it.
  // Windows: 0 (a mapping has no name to remove; Unlink does nothing).
  uint64_t dev() const { return dev_; }
  uint64_t ino() const { return ino_; }
  // The object's owner (st_uid at create/attach): names the doorbell
  // directory (doorbell.h).
  uint32_t uid() const { return uid_; }
  // The object's permission bits (st_mode & 07777 at create/attach): a
  // reader refuses a loan slab that grants anything to group or other.
  // Windows: 0 (named objects are per session, guarded by DACLs).
  uint32_t mode() const { return mode_; }

 private:
  Segment() = default;
  std::string name_;
  int fd_ = -1;
  uint8_t* base_ = nullptr;
  bool kept_ = false;  // CloseKeepingMapping: base_ is unmapped by the destructor
  uint64_t size_ = 0;
  uint32_t kind_ = kKindPlain;
  uint32_t capacity_ = 0;
  uint8_t token_[kTokenSize] = {};
  bool owner_ = false;
  bool unlinked_ = false;
  uint32_t uid_ = 0;
  uint32_t mode_ = 0;
  uint64_t dev_ = 0;
  uint64_t ino_ = 0;
#ifdef _WIN32
  // segment_win.cc: the section handle; the liveness mutexes (one per lock
  // byte, owned by the thread that locked) and whether we hold each; the
  // wake semaphores of the wait lines (futex_win.cc), opened on first use.
  void* mapping_ = nullptr;
  std::map<uint32_t, void*> locks_;  // lock byte -> mutex (bytes 0, 1; 256 + slot: broadcast rings)
  void* wakes_[2] = {nullptr, nullptr};
  void CloseHandles();
#endif
};

// What Inspect learns about a named object without mapping it.
struct Inspection {
  uint64_t size = 0;  // st_size
  uint32_t uid = 0;
  uint32_t mode = 0;  // permission bits
  uint64_t dev = 0, ino = 0;
  Header header = {};          // zero-filled beyond what the object holds
  Status validity;             // ValidateHeader of the image against size
  bool owner_locked = false;   // someone holds kOwnerLockByte
  bool reader_locked = false;  // someone holds kReaderLockByte
};

// Reads the header of "/<name>" with pread and probes its liveness locks;
// maps nothing and changes nothing. Opens with O_NONBLOCK|O_NOFOLLOW, so a
// FIFO under the name cannot block it. Fails only if the object cannot be
// opened (ENOENT, EACCES, ELOOP for a symlink, EMFILE, ...); a foreign or
// short object is reported in out->validity.
Status Inspect(const std::string& name, Inspection* out);

// Removes "/<name>" if it is still the object (dev, ino): a sweep decided
// from an Inspection, and must not remove a new object that took the name.
// Like Segment::Unlink: never blocks, no descriptor needed on Linux.
Status UnlinkIfSame(const std::string& name, uint64_t dev, uint64_t ino);

// Checks a CreateOptions before anything is created: EINVAL with the reason.
Status ValidateCreateOptions(const CreateOptions& opts);

// Fills a new segment's header (the object is zero-filled: only non-zero
// fields are written), this process as its owner, and publishes it by
// storing the magic last (release).
void PublishHeader(Header* h, const CreateOptions& opts, const uint8_t* token);

// Validates a header image read from an object of `object_size` bytes.
// Shared by Attach and the tests; returns ECORRUPT/EVERSION/EAGAIN.
Status ValidateHeader(const Header& h, uint64_t object_size);

}  // namespace smsh
