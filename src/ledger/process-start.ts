// When a process started, as the OS records it: with the pid, this tells the station that
// wrote an in-progress attempt from an unrelated process that later got the same pid (pids are
// reused, after a reboot and often on Windows). Linux: the boot id and field 22 of
// /proc/PID/stat (start time in clock ticks since boot). Windows: the process creation time
// (GetProcessTimes). Elsewhere, or when the process cannot be read: undefined.
import { readFileSync } from "node:fs";

function linuxStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces or ')': fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = fields[22 - 3];
    if (!ticks || !/^\d+$/.test(ticks)) return undefined;
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}/${ticks}`;
  } catch {
    return undefined;
  }
}

function windowsStart(pid: number): string | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { dlopen, FFIType, ptr } = require("bun:ffi") as typeof import("bun:ffi");
    const k32 = dlopen("kernel32.dll", {
      OpenProcess: { args: [FFIType.u32, FFIType.bool, FFIType.u32], returns: FFIType.ptr },
      GetProcessTimes: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.bool },
      CloseHandle: { args: [FFIType.ptr], returns: FFIType.bool },
    });
    const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
    const handle = k32.symbols.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid);
    if (!handle) return undefined;
    try {
      const times = new BigUint64Array(4);
      const at = (i: number) => ptr(times, i * 8);
      if (!k32.symbols.GetProcessTimes(handle, at(0), at(1), at(2), at(3))) return undefined;
      return String(times[0]);
    } finally {
      k32.symbols.CloseHandle(handle);
      k32.close();
    }
  } catch {
    return undefined;
  }
}

export function processStartTime(pid: number): string | undefined {
  if (process.platform === "linux") return linuxStart(pid);
  if (process.platform === "win32") return windowsStart(pid);
  return undefined;
}

/** Whether a process with this pid runs (EPERM: it does, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the process that recorded (pid, start) still runs: same pid and, when both are known, same start time. */
export function sameProcessAlive(pid: number, recordedStart: string | undefined): boolean {
  if (!processAlive(pid)) return false;
  if (recordedStart === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === recordedStart;
}
