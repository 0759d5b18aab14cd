#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

#include "doorbell.h"

namespace smsh {

namespace {

constexpr int kRetries = 4;

void CloseNoIntr(int fd) {
  if (fd >= 0) close(fd);  // Linux closes the descriptor even on EINTR
}

Status Unusable(const std::string& message) { return Status::Own("EDOORBELL", message); }

// Builds the address of `path` (NUL-terminated; the length counts the NUL,
// which Linux accepts as well as the length without it). False if the path
// does not fit in sun_path.
bool PathAddress(const char* path, size_t n, sockaddr_un* addr, socklen_t* len) {
  if (n + 1 > sizeof(addr->sun_path)) return false;
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, path, n);
  addr->sun_path[n] = '\0';
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + 1);
  return true;
}

// "<dir>/<32 hex>.<offset>" straight into sun_path, without allocating:
// this is on the waker's path.
bool DoorbellAddress(const DoorbellDir& dir, const uint8_t* token, uint32_t line_offset, sockaddr_un* addr,
                     socklen_t* len) {
  static const char digits[] = "0123456789abcdef";
  char buf[sizeof(addr->sun_path)];
  const std::string& d = dir.path();
  if (d.size() + 1 + kDoorbellFileNameMax + 1 > sizeof(buf)) return false;
  size_t n = d.size();
  std::memcpy(buf, d.data(), n);
  buf[n++] = '/';
  for (size_t i = 0; i < kTokenSize; i++) {
    buf[n++] = digits[token[i] >> 4];
    buf[n++] = digits[token[i] & 15];
  }
  buf[n++] = '.';
  char dec[12];
  size_t k = 0;
  do {
    dec[k++] = static_cast<char>('0' + line_offset % 10);
    line_offset /= 10;
  } while (line_offset != 0);
  while (k > 0) buf[n++] = dec[--k];
  return PathAddress(buf, n, addr, len);
}

bool IsDoorbellFileName(const char* name) {
  size_t i = 0;
  for (; i < 2 * kTokenSize; i++) {
    char c = name[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  if (name[i++] != '.') return false;
  size_t digits = 0;
  for (; name[i] >= '0' && name[i] <= '9'; i++) digits++;
  return name[i] == '\0' && digits >= 1 && digits <= 10;
}

// Runs file-system calls as the directory's user when it is not ours: root
// sleeping on another user's segment creates the directory and the socket
// as that user (so they are that user's, with no chown), and can reach only
// what that user could (a symlink planted in the directory leads nowhere
// that user cannot write). setfsuid is per thread on Linux; signals are
// blocked meanwhile so that no handler (which may unlink root's own
// segments) runs with the borrowed identity.
class FsIdentity {
 public:
  explicit FsIdentity(const DoorbellDir& dir) {
    if (!dir.foreign()) return;
    ok_ = false;
    if (geteuid() != 0) return;  // only root may act as another user
    sigset_t all;
    sigfillset(&all);
    masked_ = pthread_sigmask(SIG_BLOCK, &all, &old_mask_) == 0;
    prev_ = static_cast<uid_t>(setfsuid(static_cast<uid_t>(dir.uid())));
    switched_ = true;
    // setfsuid reports failure only by not changing: read it back.
    ok_ = static_cast<uint32_t>(setfsuid(static_cast<uid_t>(-1))) == dir.uid();
  }
  ~FsIdentity() {
    if (switched_) setfsuid(prev_);
    if (masked_) pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  FsIdentity(const FsIdentity&) = delete;
  FsIdentity& operator=(const FsIdentity&) = delete;
  bool ok() const { return ok_; }

 private:
  bool ok_ = true;
  bool switched_ = false;
  bool masked_ = false;
  uid_t prev_ = 0;
  sigset_t old_mask_;
};

// The parent of the per-user directories must not let others replace them:
// sticky (like /dev/shm, 1777) or not writable by group/other.
Status CheckRoot(const DoorbellDir& dir) {
  struct stat st;
  if (stat(dir.root().c_str(), &st) != 0) return Status::FromErrno(errno, "stat", dir.root());
  if (!S_ISDIR(st.st_mode)) return Unusable(dir.root() + " is not a directory");
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0)
    return Unusable(dir.root() + " is writable by others and not sticky: they could replace " + dir.path());
  return Status::Ok();
}

// The directory is ours to trust: a real directory (not a symlink), owned
// by the segment's user, with no group or other permission bits.
Status CheckDir(const DoorbellDir& dir, int dfd) {
  struct stat st;
  if (fstat(dfd, &st) != 0) return Status::FromErrno(errno, "fstat", dir.path());
  if (!S_ISDIR(st.st_mode)) return Unusable(dir.path() + " is not a directory");
  if (st.st_uid != dir.uid())
    return Unusable(dir.path() + " belongs to uid " + std::to_string(st.st_uid) + ", not " +
                    std::to_string(dir.uid()) + " (created by another user?)");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Unusable(dir.path() + " has mode " + mode + ": group or others may enter it");
  }
  return Status::Ok();
}

// Opens (and with `create`, first makes) the directory and checks it.
// *dfd = -1 and Ok when it does not exist and create is false.
Status OpenDir(const DoorbellDir& dir, bool create, int flags, int* dfd) {
  *dfd = -1;
  for (int attempt = 0;; attempt++) {
    bool created = false;
    if (create) {
      if (mkdir(dir.path().c_str(), 0700) == 0) {
        created = true;
      } else if (errno != EEXIST) {
        return Status::FromErrno(errno, "mkdir", dir.path());
      }
    }
    int fd = open(dir.path().c_str(), flags | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOENT && !create) return Status::Ok();
      if (err == ENOENT && attempt < kRetries) continue;  // removed under us: make it again
      if (err == ELOOP || err == ENOTDIR) return Unusable(dir.path() + " is not a directory (a symlink or a file)");
      if (err == EACCES) return Unusable(dir.path() + " cannot be entered (it belongs to another user?)");
      return Status::FromErrno(err, "open", dir.path());
    }
    // A umask may have taken the owner's bits; ours, so make it exact.
    if (created && fchmod(fd, 0700) != 0) {
      int err = errno;
      CloseNoIntr(fd);
      return Status::FromErrno(err, "fchmod", dir.path());
    }
    Status s = CheckDir(dir, fd);
    if (!s.ok()) {
      CloseNoIntr(fd);
      return s;
    }
    *dfd = fd;
    return Status::Ok();
  }
}

enum class Probe { kLive, kStale, kGone, kError };

// Whether anyone listens on the socket file at `addr`: connect() succeeds
// on a bound datagram socket and is refused on a file nobody has bound.
Probe ProbeSocket(const sockaddr_un& addr, socklen_t len, int* err) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return Probe::kError;
  }
  int rc;
  do {
    rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  } while (rc != 0 && errno == EINTR);
  *err = rc == 0 ? 0 : errno;
  CloseNoIntr(fd);
  if (rc == 0) return Probe::kLive;
  if (*err == ECONNREFUSED) return Probe::kStale;
  if (*err == ENOENT) return Probe::kGone;
  return Probe::kError;
}

// The waker's path when the directory is another user's (root waking a
// user's sleeper): open the directory and the socket file without following
// links, check both belong to that user, and send through /proc/self/fd, so
// that a link planted in the directory cannot make root send to a socket of
// its choosing. Costs five extra syscalls, on this rare path only.
bool RingForeign(int sender_fd, const DoorbellDir& dir, const sockaddr_un& addr) {
  const char* name = std::strrchr(addr.sun_path, '/');
  if (name == nullptr) return false;
  name++;
  bool sent = false;
  int dfd = open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) return false;
  int sfd = -1;
  struct stat st;
  if (CheckDir(dir, dfd).ok() && (sfd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) >= 0 &&
      fstat(sfd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == dir.uid()) {
    char via[32];
    int n = std::snprintf(via, sizeof(via), "/proc/self/fd/%d", sfd);
    sockaddr_un a;
    socklen_t len;
    if (n > 0 && PathAddress(via, static_cast<size_t>(n), &a, &len)) {
      const char byte = 1;
      ssize_t r;
      do {
        r = sendto(sender_fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&a), len);
      } while (r < 0 && errno == EINTR);
      sent = r == 1;
    }
  }
  CloseNoIntr(sfd);
  CloseNoIntr(dfd);
  return sent;
}

// Every listener with a file, for RemoveAllFiles at exit. Never destroyed,
// so the exit handler can use it whatever the order of static destructors.
struct Registry {
  std::mutex mu;
  std::set<DoorbellListener*> open;  // guarded by mu
};

Registry& Listeners() {
  static Registry* r = [] {
    auto* reg = new Registry;
    std::atexit([] { DoorbellListener::RemoveAllFiles(); });
    return reg;
  }();
  return *r;
}

}  // namespace

DoorbellDir::DoorbellDir(uint32_t uid, const std::string& root)
    : uid_(uid), root_(root), path_(root + "/" + kDoorbellDirPrefix + std::to_string(uid)),
      foreign_(static_cast<uint32_t>(geteuid()) != uid) {}

std::string DoorbellFileName(const uint8_t* token, uint32_t line_offset) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(kDoorbellFileNameMax);
  for (size_t i = 0; i < kTokenSize; i++) {
    s += digits[token[i] >> 4];
    s += digits[token[i] & 15];
  }
  s += '.';
  s += std::to_string(line_offset);
  return s;
}

DoorbellListener::~DoorbellListener() { Close(); }

Status DoorbellListener::Open(const DoorbellDir& dir, const uint8_t (&token)[kTokenSize], uint32_t line_offset) {
  Close();
  if (dir.empty()) return Unusable("no doorbell directory");
  if (dir.foreign() && geteuid() != 0)
    return Unusable("this process (uid " + std::to_string(geteuid()) + ") cannot use the doorbells of uid " +
                    std::to_string(dir.uid()));
  const std::string name = DoorbellFileName(token, line_offset);
  const std::string path = dir.path() + "/" + name;
  sockaddr_un addr;
  socklen_t len;
  if (!PathAddress(path.data(), path.size(), &addr, &len))
    return Status::FromErrno(ENAMETOOLONG, "bind", path + " (longer than sun_path)");
  Status s = CheckRoot(dir);
  if (!s.ok()) return s;

  FsIdentity as(dir);
  if (!as.ok()) return Unusable("cannot act as uid " + std::to_string(dir.uid()) + " (setfsuid refused)");
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, "socket", "doorbell");
  auto fail = [&](Status st, int dfd) {
    CloseNoIntr(dfd);
    CloseNoIntr(fd);
    return st;
  };
  for (int attempt = 0;; attempt++) {
    int dfd = -1;
    s = OpenDir(dir, true, O_RDONLY, &dfd);
    if (!s.ok()) return fail(s, -1);
    int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
    int err = rc == 0 ? 0 : errno;
    if (rc != 0 && err == EADDRINUSE) {
      // A file is there: a live listener (one waiter per line), or the
      // leftover of one that was killed. Decided under the directory's lock,
      // which SweepDoorbells takes too, so that two processes replacing the
      // same stale file cannot remove each other's fresh socket.
      while (flock(dfd, LOCK_EX) != 0 && errno == EINTR) {
      }
      int perr = 0;
      Probe p = ProbeSocket(addr, len, &perr);
      if (p == Probe::kStale) {
        if (unlinkat(dfd, name.c_str(), 0) != 0 && errno != ENOENT) {
          perr = errno;
          p = Probe::kError;
        } else {
          rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
          err = rc == 0 ? 0 : errno;
        }
      }
      flock(dfd, LOCK_UN);
      if (p == Probe::kLive)
        return fail(Status::FromErrno(EADDRINUSE, "bind",
                                      "doorbell " + path + " (another waiter is already listening on this line)"),
                    dfd);
      if (p == Probe::kError) return fail(Status::FromErrno(perr, "connect", "probing " + path), dfd);
      if (p == Probe::kGone && attempt < kRetries) {
        CloseNoIntr(dfd);
        continue;  // its listener closed meanwhile: bind again
      }
      if (p == Probe::kGone) err = EADDRINUSE;
    }
    if (rc != 0) {
      if (err == ENOENT && attempt < kRetries) {  // the directory went away meanwhile
        CloseNoIntr(dfd);
        continue;
      }
      return fail(Status::FromErrno(err, "bind", "doorbell " + path), dfd);
    }
    struct stat st;
    if (fstatat(dfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      err = errno;
      unlink(path.c_str());
      return fail(Status::FromErrno(err, "fstatat", path), dfd);
    }
    CloseNoIntr(dfd);
    Registry& reg = Listeners();
    std::lock_guard<std::mutex> lock(reg.mu);
    fd_ = fd;
    pid_ = getpid();
    dir_ = dir;
    path_ = path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    // Removed by the handler if SIGINT, SIGTERM or SIGHUP ends the process
    // (the caller arms it); null (too long a path, no memory): left to sweep.
    owned_ = RegisterOwnedPath(path, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
    reg.open.insert(this);
    return Status::Ok();
  }
}

int DoorbellListener::Drain() {
  int count = 0;
  char buf[64];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n >= 0) {
      count++;
      continue;
    }
    if (errno == EINTR) continue;
    return count;  // EAGAIN: empty
  }
}

void DoorbellListener::RemoveFile() {
  Registry& reg = Listeners();
  std::lock_guard<std::mutex> lock(reg.mu);
  reg.open.erase(this);
  RemoveFileLocked();
}

void DoorbellListener::RemoveFileLocked() {
  UnregisterOwnedName(owned_);
  owned_ = nullptr;
  if (path_.empty()) return;
  // Only if it is still the file we bound (a listener that replaced ours as
  // stale keeps its own), and only in the process that bound it.
  if (pid_ == getpid()) {
    FsIdentity as(dir_);
    struct stat st;
    if (as.ok() && lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) unlink(path_.c_str());
  }
  path_.clear();
}

void DoorbellListener::RemoveAllFiles() {
  Registry& reg = Listeners();
  std::lock_guard<std::mutex> lock(reg.mu);
  for (DoorbellListener* l : reg.open) l->RemoveFileLocked();
  reg.open.clear();
}

void DoorbellListener::Close() {
  if (fd_ < 0) return;
  RemoveFile();  // first: a new listener may bind the name at once
  close(fd_);
  fd_ = -1;
}

Status OpenDoorbellSender(int* fd) {
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return Status::FromErrno(errno, "socket", "doorbell sender");
  *fd = s;
  return Status::Ok();
}

bool RingDoorbell(const DoorbellTarget& t) {
  if (t.sender_fd < 0 || t.dir == nullptr || t.dir->empty() || t.token == nullptr) return false;
  sockaddr_un addr;
  socklen_t len;
  if (!DoorbellAddress(*t.dir, t.token, t.line_offset, &addr, &len)) return false;
  if (t.dir->foreign()) return RingForeign(t.sender_fd, *t.dir, addr);
  const char byte = 1;
  for (;;) {
    ssize_t n = sendto(t.sender_fd, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), len);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    // EAGAIN: a wake is already queued; ECONNREFUSED/ENOENT: nobody listens;
    // EACCES: not ours to ring.
    return false;
  }
}

Status SweepDoorbells(const DoorbellDir& dir, bool dry_run, std::vector<DoorbellFile>* out) {
  out->clear();
  if (dir.empty() || dir.foreign()) return Unusable("sweep only this user's own doorbell directory");
  int dfd = -1;
  Status s = OpenDir(dir, false, O_RDONLY, &dfd);
  if (!s.ok() || dfd < 0) return s;  // missing: nothing to sweep
  int lfd = dup(dfd);
  DIR* d = lfd >= 0 ? fdopendir(lfd) : nullptr;
  if (d == nullptr) {
    int err = errno;
    CloseNoIntr(lfd);
    CloseNoIntr(dfd);
    return Status::FromErrno(err, "opendir", dir.path());
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (IsDoorbellFileName(e->d_name)) names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  while (flock(dfd, LOCK_EX) != 0 && errno == EINTR) {
  }
  for (const std::string& name : names) {
    const std::string path = dir.path() + "/" + name;
    sockaddr_un addr;
    socklen_t len;
    if (!PathAddress(path.data(), path.size(), &addr, &len)) continue;
    int err = 0;
    Probe p = ProbeSocket(addr, len, &err);
    if (p == Probe::kGone || p == Probe::kError) continue;
    DoorbellFile f;
    f.name = name;
    f.live = p == Probe::kLive;
    if (!f.live && !dry_run) f.removed = unlinkat(dfd, name.c_str(), 0) == 0;
    out->push_back(std::move(f));
  }
  flock(dfd, LOCK_UN);
  CloseNoIntr(dfd);
  return Status::Ok();
}

}  // namespace smsh
