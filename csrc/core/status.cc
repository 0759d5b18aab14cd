#include "status.h"

#include <cerrno>
#include <cstring>

namespace smsh {

const char* ErrnoName(int err) {
  switch (err) {
#define SMSH_ERRNO(e) \
  case e:             \
    return #e;
    SMSH_ERRNO(EPERM) SMSH_ERRNO(ENOENT) SMSH_ERRNO(EINTR) SMSH_ERRNO(EIO)
    SMSH_ERRNO(EBADF) SMSH_ERRNO(EAGAIN) SMSH_ERRNO(ENOMEM) SMSH_ERRNO(EACCES)
    SMSH_ERRNO(EFAULT) SMSH_ERRNO(EBUSY) SMSH_ERRNO(EEXIST) SMSH_ERRNO(ENODEV)
    SMSH_ERRNO(EINVAL) SMSH_ERRNO(ENFILE) SMSH_ERRNO(EMFILE) SMSH_ERRNO(EFBIG)
    SMSH_ERRNO(ENOSPC) SMSH_ERRNO(ERANGE) SMSH_ERRNO(ENAMETOOLONG)
    SMSH_ERRNO(ENOSYS) SMSH_ERRNO(ETIMEDOUT) SMSH_ERRNO(ECONNREFUSED)
    SMSH_ERRNO(EOVERFLOW) SMSH_ERRNO(EOPNOTSUPP) SMSH_ERRNO(EADDRINUSE)
    SMSH_ERRNO(ENOTSOCK) SMSH_ERRNO(ESRCH) SMSH_ERRNO(ELOOP)
#ifdef EDQUOT
    SMSH_ERRNO(EDQUOT)
#endif
#undef SMSH_ERRNO
    default:
      return "EUNKNOWN";
  }
}

Status Status::FromErrno(int err, const char* syscall, std::string what) {
  Status s;
  s.err = err;
  s.code = ErrnoName(err);
  s.syscall = syscall;
  s.message = std::string(s.code) + ": " + std::strerror(err) + ", " + syscall +
              (what.empty() ? "" : " " + what);
  return s;
}

Status Status::Own(const char* code, std::string message) {
  Status s;
  s.code = code;
  s.message = std::string(code) + ": " + message;
  return s;
}

}  // namespace smsh
