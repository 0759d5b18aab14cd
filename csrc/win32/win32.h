// Windows helpers shared by the win32 core (segment_win.cc, futex_win.cc,
// proc_win.cc): error codes, kernel-object names and the owner-only
// security descriptor every object we create carries.
#pragma once
#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <cstdint>
#include <string>

#include "layout.h"
#include "status.h"

namespace smsh {

// A failed Windows call as a Status: the code is the errno name Linux would
// give for the same failure (ENOENT, EEXIST, EACCES, ENOSPC, ENOMEM, EMFILE,
// EINVAL, else EIO), the message names the Windows error number.
Status WinStatus(DWORD error, const char* call, const std::string& what);

// Every kernel object of the package lives under one prefix of the session's
// namespace: "Local\synaptic-shm.<suffix>". The segment "<name>" is the
// file mapping "Local\synaptic-shm.<name>"; its other objects are named by
// its random token (docs/PROTOCOL.md section 5).
constexpr const char* kObjectPrefix = "Local\\synaptic-shm.";
std::wstring ObjectName(const std::string& suffix);
// "<32 lowercase hex of token>"
std::string TokenHex(const uint8_t* token);

// Security attributes granting GENERIC_ALL to this process's user and
// nobody else (the equivalent of mode 0600), no inheritance. Built once;
// nullptr if the token could not be read (the object then gets the
// default DACL, which on Windows is the creator's too).
SECURITY_ATTRIBUTES* OwnerOnly();

}  // namespace smsh

#endif  // _WIN32
