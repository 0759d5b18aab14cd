// The doorbell: a datagram Unix socket in Linux's abstract namespace that an
// event loop can poll. The sleeper binds it; the waker sends one byte. Its
// address is derived from the segment's random token and the wait line's
// offset, so only processes that can read the segment know it. Anyone who
// guesses it can only cause a spurious wake, which the eventcount tolerates.
#pragma once

#include <cstdint>

#include "layout.h"
#include "status.h"

namespace smsh {

class DoorbellListener {
 public:
  DoorbellListener() = default;
  ~DoorbellListener();
  DoorbellListener(const DoorbellListener&) = delete;
  DoorbellListener& operator=(const DoorbellListener&) = delete;

  // Binds the doorbell of (token, line_offset); non-blocking, close-on-exec.
  Status Open(const uint8_t (&token)[kTokenSize], uint32_t line_offset);
  int fd() const { return fd_; }
  // Reads every pending datagram; returns how many there were.
  int Drain();
  void Close();

 private:
  int fd_ = -1;
};

// A sender socket for RingDoorbell (unbound datagram socket).
Status OpenDoorbellSender(int* fd);

// Sends one byte to the doorbell of (token, line_offset). A full queue
// (a wake is already pending) or no listener (the sleeper is gone) is not
// an error: returns true if a datagram was queued.
bool RingDoorbell(int sender_fd, const uint8_t* token, uint32_t line_offset);

}  // namespace smsh
