// ArrayBuffers over shared memory that V8 does not count as external memory.
//
// Why: every ArrayBuffer made through Node-API carries a finalizer, and V8
// counts the length of any such buffer against its external-memory limit
// (64 MiB above the level at the last full collection). One buffer above
// 64 MiB crosses it on its own, so each view of a large loan started or
// advanced incremental marking, or forced a full collection: 40 us to 25 ms
// per view depending on the JavaScript heap, measured (docs/ARCHITECTURE.md,
// "Views V8 does not count"). A loan's memory is a mapping the
// garbage collector can neither free nor shrink; counting it only buys
// pauses. V8 leaves a backing store out of the count when its deleter is
// BackingStore::EmptyDeleter; Node-API cannot make one, so this file calls
// those V8 functions, found by name at run time (dlsym), never linked: on a
// runtime without them (another engine, another C++ ABI, a V8 sandbox that
// refuses outside memory) Available() is false and callers keep the
// Node-API path. SMSH_COUNTED_VIEWS=1 in the environment forces that path.
//
// Lifetime: with an empty deleter nothing tells us when the buffer dies, so
// the caller keeps `store` (a reference to the backing store) and may unmap
// only once store.use_count() == 1: no ArrayBuffer in any isolate (a
// detached or collected one has dropped its reference) still points into
// the mapping.
#pragma once
#include <node_api.h>
#include <cstddef>
#include <memory>

namespace smsh {

// Whether New() can be used in this process (resolved and self-tested once).
bool UncountedBuffersAvailable(napi_env env);

// An ArrayBuffer over [data, data + length) and the backing-store reference
// that tracks it. Call only after UncountedBuffersAvailable() returned true.
// Returns false if V8 failed to make it (the caller falls back).
bool NewUncountedBuffer(napi_env env, void* data, size_t length, napi_value* result, std::shared_ptr<void>* store);

}  // namespace smsh
