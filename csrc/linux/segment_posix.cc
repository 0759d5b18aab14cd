#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "liveness.h"
#include "proc.h"
#include "segment.h"

namespace smsh {

namespace {

std::string ObjectPath(const std::string& name) { return "/" + name; }

// MAP_POPULATE fills the page tables at mmap time: a ring or a pooled bulk
// buffer is touched over and over, and each first touch of a 4 KiB page
// otherwise costs a minor fault (about 1 us here) on each side.
int MapFlags(bool prefault) { return MAP_SHARED | (prefault ? MAP_POPULATE : 0); }

int CloseNoIntr(int fd) {
  // On Linux close() releases the descriptor even when it reports EINTR.
  return close(fd);
}

// Whether "/<name>" still names the object (dev, ino), by opening it: a
// descriptor is needed (EMFILE at the limit), so this is the fallback where
// the object has no path we can lstat. O_NONBLOCK: a FIFO squatting the name
// must not block us; O_NOFOLLOW: a symlink is never ours.
Status SameObjectByOpen(const std::string& path, uint64_t dev, uint64_t ino, bool* same) {
  *same = false;
  int fd = shm_open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) {
    int err = errno;
    // ELOOP: the name is a symlink, which we never create.
    if (err == ENOENT || err == ELOOP) return Status::Ok();
    return Status::FromErrno(err, "shm_open", path);
  }
  struct stat st;
  int rc = fstat(fd, &st);
  int err = errno;
  CloseNoIntr(fd);
  if (rc != 0) return Status::FromErrno(err, "fstat", path);
  *same = S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
  return Status::Ok();
}

// Whether "/<name>" still names the object (dev, ino): false if the name is
// gone or now names something else (a new segment, a FIFO, a symlink). On
// Linux the object is the file /dev/shm/<name> (where glibc and musl put
// them), so lstat answers without a descriptor (this works at the descriptor
// limit, where close() and the exit cleanup most need it), without opening
// anything (a FIFO or device put there by someone else cannot block us) and
// without following a symlink.
Status SameObject(const std::string& name, uint64_t dev, uint64_t ino, bool* same) {
  *same = false;
#ifdef __linux__
  const std::string file = "/dev/shm/" + name;
  struct stat st;
  if (lstat(file.c_str(), &st) == 0) {
    *same = S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_dev) == dev && static_cast<uint64_t>(st.st_ino) == ino;
    return Status::Ok();
  }
  if (errno == ENOENT) return Status::Ok();
  // No /dev/shm path after all (an unusual mount): ask the shm API.
#endif
  return SameObjectByOpen(ObjectPath(name), dev, ino, same);
}

}  // namespace

Status Segment::Create(const CreateOptions& opts, std::unique_ptr<Segment>* out) {
  Status valid = ValidateCreateOptions(opts);
  if (!valid.ok()) return valid;

  const std::string path = ObjectPath(opts.name);
  const uint64_t total = kHeaderSize + opts.data_size;
  // 0600: the creating user only. umask can only remove bits, and fchmod
  // below makes the mode exact whatever the umask was.
  int fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd < 0) return Status::FromErrno(errno, "shm_open", path);

  auto fail = [&](Status s) {
    shm_unlink(path.c_str());
    CloseNoIntr(fd);
    return s;
  };
  // The owner's liveness mark, taken before the header can look valid: a
  // sweeper never sees a published header without a live lock behind it.
  bool locked = false;
  Status ls = LockByte(fd, kOwnerLockByte, &locked);
  if (!ls.ok()) return fail(ls);
  if (!locked) return fail(Status::Own("EBUSY", path + ": owner lock already held"));
  if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) return fail(Status::FromErrno(errno, "fchmod", path));
  if (ftruncate(fd, static_cast<off_t>(total)) != 0)
    return fail(Status::FromErrno(errno, "ftruncate", path));
  // ftruncate does not reserve tmpfs pages; without this, the first touch of
  // a page on a full /dev/shm raises SIGBUS instead of an error.
  int rc;
  do {
    rc = posix_fallocate(fd, 0, static_cast<off_t>(total));
  } while (rc == EINTR);
  if (rc != 0) return fail(Status::FromErrno(rc, "posix_fallocate", path));
  struct stat st;
  if (fstat(fd, &st) != 0) return fail(Status::FromErrno(errno, "fstat", path));
  void* base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MapFlags(opts.prefault), fd, 0);
  if (base == MAP_FAILED) return fail(Status::FromErrno(errno, "mmap", path));

  std::unique_ptr<Segment> seg(new Segment());
  seg->name_ = opts.name;
  seg->fd_ = fd;
  seg->base_ = static_cast<uint8_t*>(base);
  seg->size_ = total;
  seg->kind_ = opts.kind;
  seg->capacity_ = opts.capacity;
  seg->owner_ = true;
  seg->uid_ = static_cast<uint32_t>(st.st_uid);
  seg->mode_ = static_cast<uint32_t>(st.st_mode & 07777);
  seg->dev_ = st.st_dev;
  seg->ino_ = st.st_ino;
  Status s = RandomBytes(seg->token_, kTokenSize);
  if (!s.ok()) {
    seg->Unlink();
    return s;  // ~Segment unmaps and closes
  }

  // fallocate zero-filled the object. The acquire that pairs with the
  // magic's release is Attach's pread, ordered after it by the page cache.
  PublishHeader(seg->header(), opts, seg->token_);
  *out = std::move(seg);
  return Status::Ok();
}

Status Segment::Attach(const std::string& name, std::unique_ptr<Segment>* out, bool prefault, int expected_kind) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "shm_open", "invalid name");
  const std::string path = ObjectPath(name);
  // O_NONBLOCK: something else squatting the name (a FIFO) must not block
  // us (it is refused below as not a regular object); it changes nothing
  // for a shared-memory object. O_NOFOLLOW: we never create symlinks.
  int fd = shm_open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno(errno, "shm_open", path);
  auto fail = [&](Status s) {
    CloseNoIntr(fd);
    return s;
  };
  struct stat st;
  if (fstat(fd, &st) != 0) return fail(Status::FromErrno(errno, "fstat", path));
  if (!S_ISREG(st.st_mode)) return fail(Status::Own("ECORRUPT", path + " is not a regular object"));
  const uint64_t object_size = static_cast<uint64_t>(st.st_size);
  if (object_size == 0)
    return fail(Status::Own("EAGAIN", path + " is empty (creator still initialising it?)"));
  if (object_size < kHeaderSize)
    return fail(Status::Own("ECORRUPT", path + " is shorter than a segment header"));

  // Read the header with pread rather than through a mapping: an object
  // truncated under us then gives a short read, not SIGBUS.
  Header h;
  size_t got = 0;
  while (got < sizeof(h)) {
    ssize_t n = pread(fd, reinterpret_cast<char*>(&h) + got, sizeof(h) - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Status::FromErrno(errno, "pread", path));
    if (n == 0) return fail(Status::Own("ECORRUPT", path + " was truncated while reading its header"));
    got += static_cast<size_t>(n);
  }
  Status s = ValidateHeader(h, object_size);
  if (!s.ok()) {
    s.message += " (" + path + ")";
    return fail(s);
  }
  if (expected_kind >= 0 && h.kind != static_cast<uint32_t>(expected_kind))
    return fail(Status::Own("ECORRUPT", path + " is a segment of kind " + std::to_string(h.kind) + ", not " +
                                            std::to_string(expected_kind)));
  void* base = mmap(nullptr, h.segment_size, PROT_READ | PROT_WRITE, MapFlags(prefault), fd, 0);
  if (base == MAP_FAILED) return fail(Status::FromErrno(errno, "mmap", path));

  std::unique_ptr<Segment> seg(new Segment());
  seg->name_ = name;
  seg->fd_ = fd;
  seg->base_ = static_cast<uint8_t*>(base);
  seg->size_ = h.segment_size;
  seg->kind_ = h.kind;
  seg->capacity_ = h.capacity;
  std::memcpy(seg->token_, h.token, kTokenSize);
  seg->owner_ = false;
  seg->uid_ = static_cast<uint32_t>(st.st_uid);
  seg->mode_ = static_cast<uint32_t>(st.st_mode & 07777);
  seg->dev_ = st.st_dev;
  seg->ino_ = st.st_ino;
  *out = std::move(seg);
  return Status::Ok();
}

Status Segment::Unlink() {
  if (unlinked_) return Status::Ok();
  const std::string path = ObjectPath(name_);
  // Only remove the name if it still names our object: after someone else
  // unlinked it and a third party created a new segment (or anything else)
  // under the same name, unlinking blindly would destroy theirs.
  bool same = false;
  Status s = SameObject(name_, static_cast<uint64_t>(dev_), static_cast<uint64_t>(ino_), &same);
  if (!s.ok()) return s;
  if (same && shm_unlink(path.c_str()) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "shm_unlink", path);
  unlinked_ = true;  // removed now, or our object's name was already gone
  return Status::Ok();
}

Status Segment::Lock(uint32_t byte, bool* acquired) {
  if (fd_ < 0) return Status::Own("ECLOSED", "segment is closed");
  return LockByte(fd_, byte, acquired);
}

void Segment::Unlock(uint32_t byte) {
  if (fd_ >= 0) UnlockByte(fd_, byte);
}

Status Segment::Probe(uint32_t byte, bool* held) {
  if (fd_ < 0) return Status::Own("ECLOSED", "segment is closed");
  return ProbeByte(fd_, byte, held);
}

Status Inspect(const std::string& name, Inspection* out) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "shm_open", "invalid name");
  const std::string path = ObjectPath(name);
  int fd = shm_open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0);
  if (fd < 0) return Status::FromErrno(errno, "shm_open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Status s = Status::FromErrno(errno, "fstat", path);
    CloseNoIntr(fd);
    return s;
  }
  *out = Inspection();
  out->size = static_cast<uint64_t>(st.st_size);
  out->uid = st.st_uid;
  out->mode = st.st_mode & 07777;
  out->dev = st.st_dev;
  out->ino = st.st_ino;
  size_t got = 0;
  while (S_ISREG(st.st_mode) && got < sizeof(Header)) {
    ssize_t n = pread(fd, reinterpret_cast<char*>(&out->header) + got, sizeof(Header) - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (!S_ISREG(st.st_mode)) {
    out->validity = Status::Own("ECORRUPT", "not a regular object");
  } else if (got < sizeof(Header)) {
    out->validity = got == 0 ? Status::Own("EAGAIN", "empty object") : Status::Own("ECORRUPT", "shorter than a header");
  } else {
    out->validity = ValidateHeader(out->header, out->size);
  }
  Status s = ProbeByte(fd, kOwnerLockByte, &out->owner_locked);
  if (s.ok()) s = ProbeByte(fd, kReaderLockByte, &out->reader_locked);
  CloseNoIntr(fd);
  return s;
}

Status UnlinkIfSame(const std::string& name, uint64_t dev, uint64_t ino) {
  if (!IsValidName(name)) return Status::FromErrno(EINVAL, "shm_unlink", "invalid name");
  bool same = false;
  Status s = SameObject(name, dev, ino, &same);
  if (!s.ok() || !same) return s;
  const std::string path = ObjectPath(name);
  if (shm_unlink(path.c_str()) != 0 && errno != ENOENT) return Status::FromErrno(errno, "shm_unlink", path);
  return Status::Ok();
}

void Segment::Unmap() {
  if (base_ != nullptr && !kept_) {
    munmap(base_, size_);
    base_ = nullptr;
  }
  if (fd_ >= 0) {
    CloseNoIntr(fd_);
    fd_ = -1;
  }
}

void Segment::CloseKeepingMapping() {
  if (fd_ >= 0) {
    // The mapping keeps this open file description alive, locks included:
    // a peer would go on seeing us alive (liveness.h).
    UnlockAll(fd_);
    CloseNoIntr(fd_);
    fd_ = -1;
  }
  if (base_ != nullptr) kept_ = true;
}

Segment::~Segment() {
  kept_ = false;
  Unmap();
}

}  // namespace smsh
