#include "win32.h"

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <vector>

namespace smsh {

namespace {

int ErrnoOf(DWORD error) {
  switch (error) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
      return ENOENT;
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return EEXIST;
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
      return EACCES;
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_DISK_FULL:
    case ERROR_NO_SYSTEM_RESOURCES:
      return ENOSPC;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
      return ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
      return EMFILE;
    case ERROR_INVALID_PARAMETER:
    case ERROR_INVALID_HANDLE:
      return EINVAL;
    case ERROR_TIMEOUT:
      return ETIMEDOUT;
    default:
      return EIO;
  }
}

}  // namespace

Status WinStatus(DWORD error, const char* call, const std::string& what) {
  Status s;
  s.err = ErrnoOf(error);
  s.code = ErrnoName(s.err);
  s.syscall = call;
  char num[32];
  std::snprintf(num, sizeof(num), "%lu", static_cast<unsigned long>(error));
  s.message = std::string(s.code) + ": Windows error " + num + ", " + call + (what.empty() ? "" : " " + what);
  return s;
}

std::wstring ObjectName(const std::string& suffix) {
  std::string full = std::string(kObjectPrefix) + suffix;
  // Names are ASCII by construction (IsValidName, hex tokens).
  return std::wstring(full.begin(), full.end());
}

std::string TokenHex(const uint8_t* token) {
  static const char kHex[] = "0123456789abcdef";
  std::string out(2 * kTokenSize, '0');
  for (uint32_t i = 0; i < kTokenSize; i++) {
    out[2 * i] = kHex[token[i] >> 4];
    out[2 * i + 1] = kHex[token[i] & 15];
  }
  return out;
}

SECURITY_ATTRIBUTES* OwnerOnly() {
  static std::once_flag once;
  static SECURITY_ATTRIBUTES sa;
  static SECURITY_DESCRIPTOR sd;
  static std::vector<uint8_t> user;  // TOKEN_USER
  static std::vector<uint8_t> acl;
  static bool ok = false;
  std::call_once(once, [] {
    HANDLE token = nullptr;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) return;
    DWORD len = 0;
    GetTokenInformation(token, TokenUser, nullptr, 0, &len);
    user.resize(len);
    BOOL got = len > 0 && GetTokenInformation(token, TokenUser, user.data(), len, &len);
    CloseHandle(token);
    if (!got) return;
    PSID sid = reinterpret_cast<TOKEN_USER*>(user.data())->User.Sid;
    DWORD acl_size = sizeof(ACL) + sizeof(ACCESS_ALLOWED_ACE) + GetLengthSid(sid);
    acl.resize(acl_size);
    PACL p = reinterpret_cast<PACL>(acl.data());
    if (!InitializeAcl(p, acl_size, ACL_REVISION)) return;
    if (!AddAccessAllowedAce(p, ACL_REVISION, GENERIC_ALL, sid)) return;
    if (!InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION)) return;
    if (!SetSecurityDescriptorDacl(&sd, TRUE, p, FALSE)) return;
    sa.nLength = sizeof(sa);
    sa.lpSecurityDescriptor = &sd;
    sa.bInheritHandle = FALSE;
    ok = true;
  });
  return ok ? &sa : nullptr;
}

}  // namespace smsh
