// bcryptprimitives.dll with one export, ProcessPrng, for running dist/swtool.exe under Wine in
// tests. Bun's Windows runtime imports bcryptprimitives!ProcessPrng (the Windows 10+ CSPRNG
// entry point); Debian's Wine 8 has no bcryptprimitives.dll, so the exe would not even load.
// Copied into the Wine prefix's system32 by test/windows/wine.ts (where the loader finds a DLL
// Wine has no builtin for; dist/ stays as the release has it), it forwards to
// advapi32!SystemFunction036 (RtlGenRandom), which Wine implements from the host's
// /dev/urandom. Real Windows 10 ships the real DLL, so this never goes into a release.
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  // RtlGenRandom takes a ULONG: hand larger requests over in pieces.
  while (length > 0) {
    ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
