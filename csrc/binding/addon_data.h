// Per-environment state of the addon (the main thread and each worker have
// their own): constructors, and every live segment so the environment's
// cleanup hook can unmap them when a worker or the process exits.
#pragma once

#include <napi.h>

#include <set>

namespace smsh {

class SegmentHandle;

struct AddonData {
  Napi::FunctionReference segment_ctor;
  Napi::FunctionReference waiter_ctor;
  std::set<SegmentHandle*> segments;
  ~AddonData();  // tells surviving handles that the registry is gone
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace smsh
