#include <fcntl.h>

#include <cerrno>

#include "liveness.h"

namespace smsh {

namespace {

struct flock ByteLock(short type, off_t byte) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  fl.l_pid = 0;  // required to be 0 for OFD locks
  return fl;
}

}  // namespace

Status LockByte(int fd, off_t byte, bool* acquired) {
  struct flock fl = ByteLock(F_WRLCK, byte);
  for (;;) {
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
      *acquired = true;
      return Status::Ok();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) {
      *acquired = false;
      return Status::Ok();
    }
    return Status::FromErrno(errno, "fcntl", "F_OFD_SETLK");
  }
}

void UnlockByte(int fd, off_t byte) {
  struct flock fl = ByteLock(F_UNLCK, byte);
  while (fcntl(fd, F_OFD_SETLK, &fl) != 0 && errno == EINTR) {
  }
}

void UnlockAll(int fd) {
  struct flock fl = ByteLock(F_UNLCK, 0);
  fl.l_len = 0;  // to the end of the file, however it grows
  while (fcntl(fd, F_OFD_SETLK, &fl) != 0 && errno == EINTR) {
  }
}

Status ProbeByte(int fd, off_t byte, bool* held) {
  struct flock fl = ByteLock(F_WRLCK, byte);
  for (;;) {
    if (fcntl(fd, F_OFD_GETLK, &fl) == 0) {
      *held = fl.l_type != F_UNLCK;
      return Status::Ok();
    }
    if (errno == EINTR) continue;
    return Status::FromErrno(errno, "fcntl", "F_OFD_GETLK");
  }
}

}  // namespace smsh
