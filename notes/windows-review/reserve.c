// reserve.exe NAME SIZE HEADERFILE: SEC_RESERVE mapping, only first page committed, header copied, holds 20 s
#include <windows.h>
#include <stdio.h>
#include <wchar.h>
int wmain(int argc, wchar_t **argv) {
  wchar_t name[256]; swprintf(name, 256, L"Local\\synaptic-shm.%ls", argv[1]);
  unsigned long long size = wcstoull(argv[2], 0, 10);
  HANDLE h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE | SEC_RESERVE, (DWORD)(size >> 32), (DWORD)size, name);
  if (!h) { printf("fail map %lu\n", GetLastError()); return 1; }
  unsigned char *v = MapViewOfFile(h, FILE_MAP_WRITE, 0, 0, 0);
  if (!v) { printf("fail view %lu\n", GetLastError()); return 1; }
  if (!VirtualAlloc(v, 4096, MEM_COMMIT, PAGE_READWRITE)) { printf("fail commit %lu\n", GetLastError()); return 1; }
  FILE *f = _wfopen(argv[3], L"rb"); fread(v, 1, 4096, f); fclose(f);
  MEMORY_BASIC_INFORMATION mbi; VirtualQuery(v, &mbi, sizeof mbi);
  printf("ready regionsize %llu state %lx\n", (unsigned long long)mbi.RegionSize, mbi.State); fflush(stdout);
  Sleep(20000); return 0;
}
