// signal_cleanup.h where no name outlives its handles (Windows): the
// registry holds nothing, there is nothing to unlink.
#include "signal_cleanup.h"

namespace smsh {

OwnedName* RegisterOwnedName(const std::string&, uint64_t, uint64_t) { return nullptr; }
OwnedName* RegisterOwnedPath(const std::string&, uint64_t, uint64_t, bool) { return nullptr; }
void UnregisterOwnedName(OwnedName*) {}
int UnlinkOwnedNames() { return 0; }
int CountOwnedNames() { return 0; }

}  // namespace smsh
