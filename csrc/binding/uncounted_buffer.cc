// See uncounted_buffer.h for why this exists and what it relies on.
#include "uncounted_buffer.h"

#ifdef _WIN32
// node.exe exports V8 with MSVC-mangled names and returns std::unique_ptr /
// std::shared_ptr by the MSVC ABI, which a MinGW-built addon cannot call
// safely: Windows views are counted (Node-API external buffers).
namespace smsh {
bool UncountedBuffersAvailable(napi_env) { return false; }
bool NewUncountedBuffer(napi_env, void*, size_t, napi_value*, std::shared_ptr<void>*) { return false; }
}  // namespace smsh
#else

#include <dlfcn.h>
#include <v8.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

namespace smsh {
namespace {

// The four V8 entry points, by their Itanium C++ names. A signature that
// changes changes the name, so a mismatch is a missing symbol, not a call
// through the wrong type.
using NewStoreFn = std::unique_ptr<v8::BackingStore> (*)(void*, size_t, v8::BackingStore::DeleterCallback, void*);
using NewBufferFn = v8::Local<v8::ArrayBuffer> (*)(v8::Isolate*, std::shared_ptr<v8::BackingStore>);
using CurrentFn = v8::Isolate* (*)();
using DestroyFn = void (*)(v8::BackingStore*);

struct V8Entry {
  NewStoreFn new_store = nullptr;
  NewBufferFn new_buffer = nullptr;
  v8::BackingStore::DeleterCallback empty_deleter = nullptr;
  CurrentFn current = nullptr;
  DestroyFn destroy = nullptr;
};

V8Entry g_v8;
std::once_flag g_resolve_once;
bool g_resolved = false;
std::once_flag g_test_once;
bool g_available = false;

void Resolve() {
  const char* off = std::getenv("SMSH_COUNTED_VIEWS");
  if (off != nullptr && off[0] != '\0' && std::strcmp(off, "0") != 0) return;
  V8Entry e;
  e.new_store = reinterpret_cast<NewStoreFn>(dlsym(RTLD_DEFAULT, "_ZN2v811ArrayBuffer15NewBackingStoreEPvmPFvS1_mS1_ES1_"));
  e.new_buffer =
      reinterpret_cast<NewBufferFn>(dlsym(RTLD_DEFAULT, "_ZN2v811ArrayBuffer3NewEPNS_7IsolateESt10shared_ptrINS_12BackingStoreEE"));
  e.empty_deleter =
      reinterpret_cast<v8::BackingStore::DeleterCallback>(dlsym(RTLD_DEFAULT, "_ZN2v812BackingStore12EmptyDeleterEPvmS1_"));
  e.current = reinterpret_cast<CurrentFn>(dlsym(RTLD_DEFAULT, "_ZN2v87Isolate10GetCurrentEv"));
  e.destroy = reinterpret_cast<DestroyFn>(dlsym(RTLD_DEFAULT, "_ZN2v812BackingStoreD1Ev"));
  if (!e.new_store || !e.new_buffer || !e.empty_deleter || !e.current || !e.destroy) return;
  g_v8 = e;
  g_resolved = true;
}

// The store was made by V8's operator new; it is destroyed as V8's own
// unique_ptr would: its destructor (V8's symbol), then the global delete.
void DestroyStore(v8::BackingStore* s) {
  g_v8.destroy(s);
  ::operator delete(static_cast<void*>(s));
}

bool Make(napi_env env, void* data, size_t length, napi_value* result, std::shared_ptr<void>* store) {
  v8::Isolate* isolate = g_v8.current();
  if (isolate == nullptr) return false;
  std::unique_ptr<v8::BackingStore> made = g_v8.new_store(data, length, g_v8.empty_deleter, nullptr);
  if (!made) return false;
  std::shared_ptr<v8::BackingStore> shared(made.release(), DestroyStore);
  v8::Local<v8::ArrayBuffer> ab = g_v8.new_buffer(isolate, shared);
  if (ab.IsEmpty()) return false;
  // Node-API's napi_value is a Local's handle slot (v8impl::JsValueFromV8LocalValue).
  static_assert(sizeof(ab) == sizeof(napi_value), "a Local is one pointer");
  std::memcpy(result, &ab, sizeof ab);
  *store = std::move(shared);
  return true;
}

// Refuses the fast path unless a small buffer made by it is, as Node-API
// sees it, an ArrayBuffer with exactly our pointer and length; and unless
// the runtime allows external buffers at all (a V8 sandbox would abort on
// outside memory instead of failing).
bool SelfTest(napi_env env) {
  static unsigned char probe[64];
  napi_value ext = nullptr;
  if (napi_create_external_arraybuffer(env, probe, sizeof probe, nullptr, nullptr, &ext) != napi_ok) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &ignored);
    return false;
  }
  napi_value v = nullptr;
  std::shared_ptr<void> store;
  if (!Make(env, probe + 8, 32, &v, &store)) return false;
  bool is_ab = false;
  void* got = nullptr;
  size_t len = 0;
  if (napi_is_arraybuffer(env, v, &is_ab) != napi_ok || !is_ab) return false;
  if (napi_get_arraybuffer_info(env, v, &got, &len) != napi_ok) return false;
  if (got != probe + 8 || len != 32) return false;
  if (napi_detach_arraybuffer(env, v) != napi_ok) return false;
  // Detached, the buffer has let go of the store: ours is the only reference.
  return store.use_count() == 1;
}

}  // namespace

bool UncountedBuffersAvailable(napi_env env) {
  std::call_once(g_resolve_once, Resolve);
  if (!g_resolved) return false;
  std::call_once(g_test_once, [env] { g_available = SelfTest(env); });
  return g_available;
}

bool NewUncountedBuffer(napi_env env, void* data, size_t length, napi_value* result, std::shared_ptr<void>* store) {
  return Make(env, data, length, result, store);
}

}  // namespace smsh

#endif  // _WIN32
