// The doorbell: a datagram Unix socket that an event loop can poll. The
// sleeper binds it; the waker sends one byte. It is a *pathname* socket in a
// per-user directory of mode 0700,
//
//     /dev/shm/.smsh-<uid>/<token as 32 lowercase hex>.<line offset>
//
// where uid is the owner of the segment object (st_uid) and token the
// segment's random token (docs/PROTOCOL.md section 1). Only that user (and
// root) can reach a socket in the directory, so no other user can ring,
// flood or squat a doorbell. (The first version used the abstract namespace,
// which has no permission check: any user could flood a doorbell, keeping
// its reader's loop busy, or bind its name first and stall it.)
//
// A directory that cannot be trusted (created by another user, a symlink,
// group/other bits set) makes the doorbell unusable: Open fails with code
// EDOORBELL and the caller falls back to the futex watcher thread.
//
// Windows has no doorbell (doorbell_none.cc): Open fails with EDOORBELL and
// event-loop waits use the waiter thread. SMSH_HAVE_DOORBELL says which.
#pragma once

#ifdef _WIN32
#define SMSH_HAVE_DOORBELL 0
#else
#define SMSH_HAVE_DOORBELL 1
#endif

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "layout.h"
#include "signal_cleanup.h"
#include "status.h"

namespace smsh {

// Where the per-user directories live: /dev/shm is shared by every process
// that shares the segments (unlike /tmp under systemd's PrivateTmp), and a
// '.'-prefixed name can never be a segment's name.
constexpr const char* kDoorbellRoot = "/dev/shm";
constexpr const char* kDoorbellDirPrefix = ".smsh-";
// "<32 hex>.<offset>": offsets are < 4096, so at most 37 characters.
constexpr size_t kDoorbellFileNameMax = 2 * kTokenSize + 1 + 10;

// The doorbell directory of one user, as a segment's ends derive it.
class DoorbellDir {
 public:
  DoorbellDir() = default;  // empty: no doorbells (rings fail, Open is EDOORBELL)
  // `root` is for tests; production always uses kDoorbellRoot.
  explicit DoorbellDir(uint32_t uid, const std::string& root = kDoorbellRoot);

  bool empty() const { return path_.empty(); }
  uint32_t uid() const { return uid_; }
  // "<root>/.smsh-<uid>"
  const std::string& path() const { return path_; }
  const std::string& root() const { return root_; }
  // This process's effective uid is not the directory's user (root on
  // another user's segment): the directory belongs to someone else, so the
  // sleeper acts with that user's file-system identity (setfsuid) and the
  // waker opens the socket without following links (see doorbell_linux.cc).
  bool foreign() const { return foreign_; }

 private:
  uint32_t uid_ = 0;
  std::string root_;
  std::string path_;
  bool foreign_ = false;
};

// "<32 lowercase hex of token, token[0] first>.<line_offset in decimal>"
std::string DoorbellFileName(const uint8_t* token, uint32_t line_offset);

class DoorbellListener {
 public:
  DoorbellListener() = default;
  ~DoorbellListener();
  DoorbellListener(const DoorbellListener&) = delete;
  DoorbellListener& operator=(const DoorbellListener&) = delete;

  // Binds the doorbell of (token, line_offset) in `dir`, creating the
  // directory (0700) if it is missing; non-blocking, close-on-exec. A socket
  // file left by a dead listener (kill -9) is replaced. Fails with
  //   EADDRINUSE  a live listener holds this line (one waiter per line);
  //   anything else: the doorbell cannot be used safely here (EDOORBELL for
  //   an untrustworthy directory, or the errno of what failed); the caller
  //   should fall back to the futex thread. message says why.
  Status Open(const DoorbellDir& dir, const uint8_t (&token)[kTokenSize], uint32_t line_offset);
  int fd() const { return fd_; }
  // Reads every pending datagram; returns how many there were.
  int Drain();
  // Removes the socket file, if it is still ours; the socket stays open
  // (for an event loop that closes it later, or never: at exit). Idempotent.
  void RemoveFile();
  // RemoveFile, then closes the socket.
  void Close();

  // Removes the files of every listener this process has open. Runs by
  // itself at exit() (process.exit() runs no environment cleanup hooks).
  // SIGINT, SIGTERM and SIGHUP remove them too, through the signal cleanup
  // registry (signal_cleanup.h) each bound file is registered in; a process
  // killed otherwise leaves its files to the next listener of the line or
  // to SweepDoorbells.
  static void RemoveAllFiles();

 private:
  void RemoveFileLocked();
  int fd_ = -1;
  pid_t pid_ = 0;     // the process that bound it (a forked child must not remove it)
  DoorbellDir dir_;
  std::string path_;  // the bound socket file
  dev_t dev_ = 0;     // its identity, so Close removes only our own file
  ino_t ino_ = 0;
  OwnedName* owned_ = nullptr;  // its entry in the signal cleanup registry
};

// A sender socket for RingDoorbell (unbound datagram socket).
Status OpenDoorbellSender(int* fd);

// The doorbell of one wait line, as a waker addresses it.
struct DoorbellTarget {
  int sender_fd = -1;  // OpenDoorbellSender
  const DoorbellDir* dir = nullptr;
  const uint8_t* token = nullptr;
  uint32_t line_offset = 0;
};

// Sends one byte to the doorbell. A full queue (a wake is already pending),
// no listener (the sleeper is gone) or no permission is not an error:
// returns true if a datagram was queued.
bool RingDoorbell(const DoorbellTarget& target);

// A socket file in a doorbell directory, as SweepDoorbells found it.
struct DoorbellFile {
  std::string name;  // "<32 hex>.<offset>"
  bool live = false;  // someone listens on it (kept)
  bool removed = false;
};

// Lists the socket files of `dir` (names of the doorbell form only) and,
// unless dry_run, removes those nobody listens on (connect is refused): the
// leftovers of listeners killed with -9. Live ones are never touched. A
// missing directory is an empty list; an untrustworthy one is EDOORBELL.
Status SweepDoorbells(const DoorbellDir& dir, bool dry_run, std::vector<DoorbellFile>* out);

}  // namespace smsh
