// hostile.exe SLEEP_MS OP NAME [ARGS]   (NAME is appended to Local\synaptic-shm.)
//  OP: mutex (unowned) | mutexown | sem INIT MAX | event | map SIZE [HEXBYTES_FILE] | exists
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>
int wmain(int argc, wchar_t **argv) {
  if (argc < 4) return 2;
  DWORD ms = wcstoul(argv[1], 0, 10);
  wchar_t name[512];
  swprintf(name, 512, L"Local\\synaptic-shm.%ls", argv[3]);
  HANDLE h = NULL;
  const wchar_t *op = argv[2];
  if (!wcscmp(op, L"mutex")) h = CreateMutexW(NULL, FALSE, name);
  else if (!wcscmp(op, L"mutexown")) h = CreateMutexW(NULL, TRUE, name);
  else if (!wcscmp(op, L"sem")) h = CreateSemaphoreW(NULL, wcstol(argv[4],0,10), wcstol(argv[5],0,10), name);
  else if (!wcscmp(op, L"event")) h = CreateEventW(NULL, TRUE, TRUE, name);
  else if (!wcscmp(op, L"map")) {
    unsigned long long size = wcstoull(argv[4], 0, 10);
    h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, (DWORD)(size>>32), (DWORD)size, name);
    if (h && argc > 5) {
      FILE *f = _wfopen(argv[5], L"rb");
      unsigned char *v = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
      if (f && v) { fread(v, 1, size, f); fclose(f); }
    }
  } else if (!wcscmp(op, L"exists")) {
    for (int i = 3; i < argc; i++) {
      swprintf(name, 512, L"Local\\synaptic-shm.%ls", argv[i]);
      HANDLE a;
      const char *t = "none";
      if ((a = OpenMutexW(SYNCHRONIZE, FALSE, name))) t = "mutex";
      else if ((a = OpenSemaphoreW(SYNCHRONIZE, FALSE, name))) t = "semaphore";
      else if ((a = OpenFileMappingW(FILE_MAP_READ, FALSE, name))) t = "mapping";
      else if ((a = OpenEventW(SYNCHRONIZE, FALSE, name))) t = "event";
      if (a) CloseHandle(a);
      printf("%ls %s\n", argv[i], t);
    }
    fflush(stdout);
    return 0;
  }
  if (!h) { printf("fail %lu\n", GetLastError()); fflush(stdout); return 1; }
  printf("ready %lu\n", GetLastError()); fflush(stdout);
  Sleep(ms);
  return 0;
}
