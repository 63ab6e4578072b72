// The few libc calls the POSIX serial binding and the pseudo-terminal need, through bun:ffi
// (Linux, glibc and musl: the struct termios layout and the ioctl numbers below are Linux's).
// Loaded on first use so that importing this module costs nothing on Windows.
import { dlopen, FFIType, read as readMemory, type Pointer } from "bun:ffi";

const { i32, u32, u64, i64, ptr, void: none } = FFIType;

const SYMBOLS = {
  open: { args: [ptr, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, ptr, u64], returns: i64 },
  write: { args: [i32, ptr, u64], returns: i64 },
  tcgetattr: { args: [i32, ptr], returns: i32 },
  tcsetattr: { args: [i32, i32, ptr], returns: i32 },
  cfmakeraw: { args: [ptr], returns: none },
  cfsetispeed: { args: [ptr, u32], returns: i32 },
  cfsetospeed: { args: [ptr, u32], returns: i32 },
  cfgetospeed: { args: [ptr], returns: u32 },
  tcflush: { args: [i32, i32], returns: i32 },
  tcdrain: { args: [i32], returns: i32 },
  ioctl: { args: [i32, u64, ptr], returns: i32 },
  posix_openpt: { args: [i32], returns: i32 },
  grantpt: { args: [i32], returns: i32 },
  unlockpt: { args: [i32], returns: i32 },
  ptsname_r: { args: [i32, ptr, u64], returns: i32 },
  __errno_location: { args: [], returns: ptr },
  strerror: { args: [i32], returns: FFIType.cstring },
} as const;

type Libc = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
let loaded: Libc | undefined;

export function libc(): Libc {
  if (!loaded) {
    let lib: ReturnType<typeof dlopen<typeof SYMBOLS>> | undefined;
    let lastError: unknown;
    for (const name of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        lib = dlopen(name, SYMBOLS);
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (!lib) throw new Error(`cannot load the C library for serial ports: ${(lastError as Error)?.message}`);
    loaded = lib.symbols;
  }
  return loaded;
}

export function errno(): number {
  return readMemory.i32(libc().__errno_location() as Pointer, 0);
}

export class SystemError extends Error {
  constructor(
    readonly call: string,
    readonly code: number,
    what: string,
  ) {
    super(`${what}: ${call} failed: ${String(libc().strerror(code))} (errno ${code})`);
  }
}

/** Throws a SystemError when a libc call returned -1. */
export function check(result: number | bigint, call: string, what: string): number {
  const n = Number(result);
  if (n < 0) throw new SystemError(call, errno(), what);
  return n;
}

export const cString = (text: string) => Buffer.from(`${text}\0`, "utf8");

export const O = { RDWR: 0o2, NOCTTY: 0o400, NONBLOCK: 0o4000, CLOEXEC: 0o2000000 } as const;
export const ERRNO = { EAGAIN: 11, EINTR: 4, EIO: 5, EBUSY: 16, ENOENT: 2, EACCES: 13 } as const;

/** struct termios (Linux): c_iflag, c_oflag, c_cflag, c_lflag, c_line, c_cc[32], c_ispeed, c_ospeed. */
export const TERMIOS = { size: 60, iflag: 0, oflag: 4, cflag: 8, lflag: 12, cc: 17, VTIME: 5, VMIN: 6 } as const;

export const CFLAG = {
  CSIZE: 0o60,
  CS5: 0o0,
  CS6: 0o20,
  CS7: 0o40,
  CS8: 0o60,
  CSTOPB: 0o100,
  CREAD: 0o200,
  PARENB: 0o400,
  PARODD: 0o1000,
  HUPCL: 0o2000,
  CLOCAL: 0o4000,
  CMSPAR: 0o10000000000,
  CRTSCTS: 0o20000000000,
} as const;

export const IFLAG = { INPCK: 0o20, IXON: 0o2000, IXANY: 0o4000, IXOFF: 0o10000 } as const;

export const IOCTL = {
  TIOCEXCL: 0x540c,
  TIOCNXCL: 0x540d,
  TIOCMGET: 0x5415,
  TIOCMSET: 0x5418,
  TIOCSBRK: 0x5427,
  TIOCCBRK: 0x5428,
} as const;

export const MODEM = { DTR: 0x002, RTS: 0x004, CTS: 0x020, CAR: 0x040, DSR: 0x100 } as const;
export const TCSANOW = 0;
export const TCIOFLUSH = 2;

/** Linux speed_t codes (termios-baud.h); other rates are refused rather than guessed. */
export const BAUD_CODES: Record<number, number> = {
  50: 1, 75: 2, 110: 3, 134: 4, 150: 5, 200: 6, 300: 7, 600: 8, 1200: 9, 1800: 10, 2400: 11, 4800: 12,
  9600: 13, 19200: 14, 38400: 15, 57600: 0o10001, 115200: 0o10002, 230400: 0o10003, 460800: 0o10004,
  500000: 0o10005, 576000: 0o10006, 921600: 0o10007, 1000000: 0o10010, 1152000: 0o10011, 1500000: 0o10012,
  2000000: 0o10013, 2500000: 0o10014, 3000000: 0o10015, 3500000: 0o10016, 4000000: 0o10017,
};
