// Groundwork probe for issue 13: the Win32 primitives a Windows port of
// @synaptic-mesh/shm needs, exposed thinly to JS so two node.exe processes
// under Wine (or real Windows) can exercise them against each other.
// Handles are passed to JS as Numbers (uintptr_t); errors as GetLastError().
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#include <windows.h>
#include <synchapi.h>
#include <napi.h>
#include <string>
#include <cstdint>
#include <thread>
#include <chrono>

static std::wstring W(const Napi::Value& v) {
  std::u16string s = v.As<Napi::String>().Utf16Value();
  return std::wstring(s.begin(), s.end());
}
static HANDLE H(const Napi::Value& v) {
  return reinterpret_cast<HANDLE>(static_cast<uintptr_t>(v.As<Napi::Number>().Int64Value()));
}
static Napi::Value HV(Napi::Env env, HANDLE h) {
  return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(h)));
}
static double nowUs() {
  static LARGE_INTEGER f = [] { LARGE_INTEGER x; QueryPerformanceFrequency(&x); return x; }();
  LARGE_INTEGER c; QueryPerformanceCounter(&c);
  return static_cast<double>(c.QuadPart) * 1e6 / static_cast<double>(f.QuadPart);
}

static Napi::Value Hello(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 42); }
static Napi::Value Pid(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), GetCurrentProcessId()); }
static Napi::Value LastError(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), GetLastError()); }

// ---- shared memory: pagefile-backed named section + view as external Buffer
static Napi::Value MapView(Napi::Env env, HANDLE m, size_t size, DWORD createErr) {
  void* p = MapViewOfFile(m, FILE_MAP_ALL_ACCESS, 0, 0, size);
  if (!p) { throw Napi::Error::New(env, "MapViewOfFile failed, err=" + std::to_string(GetLastError())); }
  MEMORY_BASIC_INFORMATION mbi{}; VirtualQuery(p, &mbi, sizeof mbi);
  auto buf = Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(p), size,
      [m](Napi::Env, uint8_t* d) { UnmapViewOfFile(d); CloseHandle(m); });
  Napi::Object r = Napi::Object::New(env);
  r.Set("buffer", buf);
  r.Set("handle", HV(env, m));
  r.Set("alreadyExists", Napi::Boolean::New(env, createErr == ERROR_ALREADY_EXISTS));
  r.Set("regionSize", Napi::Number::New(env, static_cast<double>(mbi.RegionSize)));
  return r;
}
static Napi::Value MapCreate(const Napi::CallbackInfo& info) {
  std::wstring name = W(info[0]);
  uint64_t size = static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value());
  HANDLE m = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE,
                                static_cast<DWORD>(size >> 32), static_cast<DWORD>(size), name.c_str());
  DWORD e = GetLastError();
  if (!m) throw Napi::Error::New(info.Env(), "CreateFileMappingW failed, err=" + std::to_string(e));
  return MapView(info.Env(), m, size, e);
}
static Napi::Value MapOpen(const Napi::CallbackInfo& info) {
  std::wstring name = W(info[0]);
  size_t size = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  HANDLE m = OpenFileMappingW(FILE_MAP_ALL_ACCESS, FALSE, name.c_str());
  if (!m) throw Napi::Error::New(info.Env(), "OpenFileMappingW failed, err=" + std::to_string(GetLastError()));
  return MapView(info.Env(), m, size, 0);
}

// ---- events / mutexes / waits
static Napi::Value EventCreate(const Napi::CallbackInfo& info) {  // auto-reset, non-signalled
  HANDLE h = CreateEventW(nullptr, FALSE, FALSE, W(info[0]).c_str());
  return h ? HV(info.Env(), h) : Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
}
static Napi::Value EventOpen(const Napi::CallbackInfo& info) {
  HANDLE h = OpenEventW(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, W(info[0]).c_str());
  return h ? HV(info.Env(), h) : Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
}
static Napi::Value EventSet(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), SetEvent(H(info[0])) != 0);
}
static Napi::Value MutexCreate(const Napi::CallbackInfo& info) {
  HANDLE h = CreateMutexW(nullptr, info[1].ToBoolean() ? TRUE : FALSE, W(info[0]).c_str());
  return h ? HV(info.Env(), h) : Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
}
static Napi::Value MutexOpen(const Napi::CallbackInfo& info) {
  HANDLE h = OpenMutexW(SYNCHRONIZE | MUTEX_MODIFY_STATE, FALSE, W(info[0]).c_str());
  return h ? HV(info.Env(), h) : Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
}
static Napi::Value MutexRelease(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ReleaseMutex(H(info[0])) != 0);
}
// wait(handle, ms) -> { code, us }   code: 0 signalled, 0x80 abandoned, 0x102 timeout, 0xffffffff failed
static Napi::Value Wait(const Napi::CallbackInfo& info) {
  HANDLE h = H(info[0]);
  DWORD ms = static_cast<DWORD>(info[1].As<Napi::Number>().Int64Value());
  double t0 = nowUs();
  DWORD r = WaitForSingleObject(h, ms);
  double t1 = nowUs();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("code", Napi::Number::New(info.Env(), r));
  o.Set("us", Napi::Number::New(info.Env(), t1 - t0));
  if (r == WAIT_FAILED) o.Set("err", Napi::Number::New(info.Env(), GetLastError()));
  return o;
}
static Napi::Value Close(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), CloseHandle(H(info[0])) != 0);
}

// ---- process liveness: OpenProcess + GetProcessTimes / GetExitCodeProcess
static Napi::Value ProcOpen(const Napi::CallbackInfo& info) {
  DWORD pid = static_cast<DWORD>(info[0].As<Napi::Number>().Int64Value());
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE, FALSE, pid);
  return h ? HV(info.Env(), h) : Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
}
static Napi::Value ProcInfo(const Napi::CallbackInfo& info) {
  HANDLE h = H(info[0]);
  FILETIME c{}, e{}, k{}, u{};
  Napi::Object o = Napi::Object::New(info.Env());
  if (GetProcessTimes(h, &c, &e, &k, &u)) {
    uint64_t ct = (static_cast<uint64_t>(c.dwHighDateTime) << 32) | c.dwLowDateTime;
    uint64_t et = (static_cast<uint64_t>(e.dwHighDateTime) << 32) | e.dwLowDateTime;
    o.Set("creation", Napi::BigInt::New(info.Env(), ct));
    o.Set("exit", Napi::BigInt::New(info.Env(), et));
  } else {
    o.Set("timesErr", Napi::Number::New(info.Env(), GetLastError()));
  }
  DWORD code = 0;
  if (GetExitCodeProcess(h, &code)) o.Set("exitCode", Napi::Number::New(info.Env(), code));  // 259 = STILL_ACTIVE
  o.Set("pid", Napi::Number::New(info.Env(), GetProcessId(h)));
  return o;
}
static Napi::Value SelfCreation(const Napi::CallbackInfo& info) {
  FILETIME c{}, e{}, k{}, u{};
  GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u);
  return Napi::BigInt::New(info.Env(), (static_cast<uint64_t>(c.dwHighDateTime) << 32) | c.dwLowDateTime);
}
static Napi::Value ProcTerminate(const Napi::CallbackInfo& info) {
  DWORD pid = static_cast<DWORD>(info[0].As<Napi::Number>().Int64Value());
  HANDLE h = OpenProcess(PROCESS_TERMINATE, FALSE, pid);
  if (!h) return Napi::Number::New(info.Env(), -static_cast<double>(GetLastError()));
  BOOL ok = TerminateProcess(h, 9);
  CloseHandle(h);
  return Napi::Number::New(info.Env(), ok ? 1 : -static_cast<double>(GetLastError()));
}
static Napi::Value HardExit(const Napi::CallbackInfo& info) {  // exit without releasing anything
  ExitProcess(static_cast<UINT>(info[0].As<Napi::Number>().Int64Value()));
  return info.Env().Undefined();
}

// ---- WaitOnAddress / WakeByAddressSingle on a (shared) buffer
static Napi::Value WaitAddr(const Napi::CallbackInfo& info) {
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  size_t off = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  LONG cmp = info[2].As<Napi::Number>().Int32Value();
  DWORD ms = static_cast<DWORD>(info[3].As<Napi::Number>().Int64Value());
  volatile LONG* addr = reinterpret_cast<volatile LONG*>(b.Data() + off);
  double t0 = nowUs();
  BOOL ok = WaitOnAddress(addr, &cmp, sizeof(LONG), ms);
  DWORD e = ok ? 0 : GetLastError();
  double t1 = nowUs();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("woken", Napi::Boolean::New(info.Env(), ok != 0));
  o.Set("err", Napi::Number::New(info.Env(), e));  // 1460 = ERROR_TIMEOUT
  o.Set("value", Napi::Number::New(info.Env(), *addr));
  o.Set("us", Napi::Number::New(info.Env(), t1 - t0));
  return o;
}
static Napi::Value WakeAddr(const Napi::CallbackInfo& info) {
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  size_t off = static_cast<size_t>(info[1].As<Napi::Number>().Int64Value());
  volatile LONG* addr = reinterpret_cast<volatile LONG*>(b.Data() + off);
  InterlockedExchange(addr, info[2].As<Napi::Number>().Int32Value());
  WakeByAddressSingle(const_cast<LONG*>(addr));
  return info.Env().Undefined();
}

// in-process sanity: another thread wakes us after 50 ms
static Napi::Value SelfWakeTest(const Napi::CallbackInfo& info) {
  static volatile LONG word = 0; word = 0;
  std::thread t([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); InterlockedExchange(&word, 1); WakeByAddressSingle(const_cast<LONG*>(&word)); });
  LONG cmp = 0; double t0 = nowUs();
  BOOL ok = TRUE;
  while (word == 0 && ok) ok = WaitOnAddress(&word, &cmp, sizeof(LONG), 1000);
  double t1 = nowUs(); t.join();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("woken", Napi::Boolean::New(info.Env(), ok != 0)); o.Set("ms", Napi::Number::New(info.Env(), (t1 - t0) / 1000));
  return o;
}
// ---- ping-pong: n round trips over two auto-reset events; returns total us
static Napi::Value PingPong(const Napi::CallbackInfo& info) {
  HANDLE mine = H(info[0]), other = H(info[1]);
  int n = info[2].As<Napi::Number>().Int32Value();
  bool initiator = info[3].ToBoolean();
  double t0 = nowUs();
  for (int i = 0; i < n; i++) {
    if (initiator) {
      SetEvent(other);
      if (WaitForSingleObject(mine, 5000) != WAIT_OBJECT_0) throw Napi::Error::New(info.Env(), "pingpong timeout at " + std::to_string(i));
    } else {
      if (WaitForSingleObject(mine, 5000) != WAIT_OBJECT_0) throw Napi::Error::New(info.Env(), "pingpong timeout at " + std::to_string(i));
      SetEvent(other);
    }
  }
  return Napi::Number::New(info.Env(), nowUs() - t0);
}
// same over WaitOnAddress in shared memory (only meaningful if cross-process wake works)
static Napi::Value PingPongAddr(const Napi::CallbackInfo& info) {
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  volatile LONG* w = reinterpret_cast<volatile LONG*>(b.Data());
  int n = info[1].As<Napi::Number>().Int32Value();
  bool initiator = info[2].ToBoolean();
  LONG me = initiator ? 0 : 1;  // turn word: whose turn it is
  double t0 = nowUs();
  for (int i = 0; i < n; i++) {
    LONG cur;
    while ((cur = *w) != me) {
      if (!WaitOnAddress(w, &cur, sizeof(LONG), 2000)) throw Napi::Error::New(info.Env(), "addr pingpong timeout at " + std::to_string(i));
    }
    InterlockedExchange(w, 1 - me);
    WakeByAddressSingle(const_cast<LONG*>(w));
  }
  return Napi::Number::New(info.Env(), nowUs() - t0);
}

static Napi::Object Init(Napi::Env env, Napi::Object e) {
#define X(n, f) e.Set(n, Napi::Function::New(env, f))
  X("hello", Hello); X("pid", Pid); X("lastError", LastError);
  X("mapCreate", MapCreate); X("mapOpen", MapOpen);
  X("eventCreate", EventCreate); X("eventOpen", EventOpen); X("eventSet", EventSet);
  X("mutexCreate", MutexCreate); X("mutexOpen", MutexOpen); X("mutexRelease", MutexRelease);
  X("wait", Wait); X("close", Close);
  X("procOpen", ProcOpen); X("procInfo", ProcInfo); X("selfCreation", SelfCreation);
  X("procTerminate", ProcTerminate); X("hardExit", HardExit);
  X("waitAddr", WaitAddr); X("wakeAddr", WakeAddr);
  X("pingPong", PingPong); X("selfWakeTest", SelfWakeTest); X("pingPongAddr", PingPongAddr);
#undef X
  return e;
}
NODE_API_MODULE(winapi, Init)
