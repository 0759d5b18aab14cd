// doorbell.h where there are no doorbells (Windows): every listener fails
// to open with EDOORBELL, so event-loop waits take the waiter thread
// (notify.h FutexWatcher); rings and sweeps find nothing.
#include "doorbell.h"

namespace smsh {

DoorbellDir::DoorbellDir(uint32_t uid, const std::string& root) : uid_(uid), root_(root) {}

std::string DoorbellFileName(const uint8_t*, uint32_t) { return std::string(); }

DoorbellListener::~DoorbellListener() = default;

Status DoorbellListener::Open(const DoorbellDir&, const uint8_t (&)[kTokenSize], uint32_t) {
  return Status::Own("EDOORBELL", "this platform has no doorbell: a waiter thread wakes the event loop");
}

int DoorbellListener::Drain() { return 0; }
void DoorbellListener::RemoveFile() {}
void DoorbellListener::RemoveFileLocked() {}
void DoorbellListener::Close() {}
void DoorbellListener::RemoveAllFiles() {}

Status OpenDoorbellSender(int* fd) {
  *fd = -1;
  return Status::Ok();
}

bool RingDoorbell(const DoorbellTarget&) { return false; }

Status SweepDoorbells(const DoorbellDir&, bool, std::vector<DoorbellFile>* out) {
  out->clear();
  return Status::Ok();
}

}  // namespace smsh
