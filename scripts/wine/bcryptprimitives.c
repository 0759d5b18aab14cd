/*
 * bcryptprimitives.dll for Wine 8.0 (Debian 12), which does not ship it.
 *
 * Rust's standard library (1.78 and later) gets random bytes from
 * bcryptprimitives!ProcessPrng, so every Rust-built Windows binary imports
 * it; the one that matters here is rolldown's native binding, which vitest 4
 * (through vite) loads. Without this DLL that binding fails to load and
 * vitest cannot start under Wine.
 *
 * ProcessPrng(buffer, length) fills the buffer with random bytes and always
 * returns TRUE on Windows. Here the bytes come from advapi32's RtlGenRandom
 * (SystemFunction036), which Wine implements; it takes a ULONG length, so
 * large requests are split. Built by scripts/wine/setup.sh with mingw-w64 and
 * copied into the prefix's system32. Test infrastructure only: never shipped.
 */
#include <windows.h>

/* RtlGenRandom's real export name; declared here rather than through
   <ntsecapi.h>, whose macro renaming gets in the way. */
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    const SIZE_T step = 1u << 30;
    while (length > 0) {
        ULONG n = (ULONG)(length < step ? length : step);
        if (!SystemFunction036(data, n)) return FALSE;
        data += n;
        length -= n;
    }
    return TRUE;
}
