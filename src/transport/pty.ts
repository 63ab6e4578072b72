// Pseudo-terminals for the device simulator: posix_openpt/grantpt/unlockpt/ptsname through
// bun:ffi. The simulator plays the device on the master side; the line PC opens the slave
// path as it would a USB serial adapter. The simulator keeps its own slave fd open so the
// master keeps working while no PC is attached, and sets the slave raw like a real UART.
import { check, cString, libc, O, TCSANOW, TERMIOS } from "./serial/libc.ts";
import { closeFd, FdReader, writeAll } from "./serial/fd-io.ts";

export interface Pty {
  /** The path the PC opens, e.g. /dev/pts/7. */
  readonly path: string;
  write(data: Uint8Array): Promise<void>;
  onData(handler: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

export function openPty(): Pty {
  if (process.platform === "win32") throw new Error("pseudo-terminals need Linux; use --listen for a TCP device on Windows");
  const c = libc();
  const master = check(c.posix_openpt(O.RDWR | O.NOCTTY | O.NONBLOCK | O.CLOEXEC), "posix_openpt", "pseudo-terminal");
  check(c.grantpt(master), "grantpt", "pseudo-terminal");
  check(c.unlockpt(master), "unlockpt", "pseudo-terminal");
  const name = Buffer.alloc(128);
  check(c.ptsname_r(master, name, name.length), "ptsname_r", "pseudo-terminal");
  const path = name.subarray(0, name.indexOf(0)).toString("utf8");
  const slave = check(c.open(cString(path), O.RDWR | O.NOCTTY | O.NONBLOCK | O.CLOEXEC, 0), "open", path);
  const termios = new Uint8Array(TERMIOS.size);
  for (const fd of [slave, master]) {
    check(c.tcgetattr(fd, termios), "tcgetattr", path);
    c.cfmakeraw(termios);
    check(c.tcsetattr(fd, TCSANOW, termios), "tcsetattr", path);
  }
  const reader = new FdReader();
  let handler: (chunk: Uint8Array) => void = () => {};
  reader.start(master, (chunk) => handler(chunk), () => {});
  let closed = false;
  return {
    path,
    write: (data) => (closed ? Promise.resolve() : writeAll(master, data, path)),
    onData(h) {
      handler = h;
    },
    async close() {
      if (closed) return;
      closed = true;
      await reader.stop();
      closeFd(slave, path);
      closeFd(master, path);
    },
  };
}
