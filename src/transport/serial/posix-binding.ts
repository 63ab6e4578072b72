// serialport's binding interface (@serialport/bindings-interface) for Bun on Linux: termios
// through bun:ffi instead of the native bindings-cpp addon, which Bun cannot load.
// open: O_NONBLOCK, TIOCEXCL when `lock`, raw mode, speed, data bits, parity, stop bits,
// RTS/CTS and XON/XOFF flow control, HUPCL; reads through Bun's event loop (fd-io.ts).
import type { BindingPortInterface, OpenOptions, PortStatus, SetOptions, UpdateOptions } from "@serialport/bindings-interface";
import { BAUD_CODES, CFLAG, check, cString, ERRNO, errno, IFLAG, IOCTL, libc, MODEM, O, SystemError, TCIOFLUSH, TCSANOW, TERMIOS } from "./libc.ts";
import { closeFd, FdReader, writeAll } from "./fd-io.ts";

export const DEFAULT_OPEN_OPTIONS = {
  dataBits: 8,
  lock: true,
  stopBits: 1,
  parity: "none",
  rtscts: false,
  xon: false,
  xoff: false,
  xany: false,
  hupcl: true,
} as const;

const canceled = (what: string) => Object.assign(new Error(`${what}: port closed`), { canceled: true });

function baudCode(baudRate: number, path: string): number {
  const code = BAUD_CODES[baudRate];
  if (code === undefined) {
    throw new Error(`${path}: baud rate ${baudRate} is not a standard rate (use 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, ...)`);
  }
  return code;
}

function configure(fd: number, o: Required<OpenOptions>): void {
  const c = libc();
  const t = new Uint8Array(TERMIOS.size);
  const view = new DataView(t.buffer);
  check(c.tcgetattr(fd, t), "tcgetattr", o.path);
  c.cfmakeraw(t);
  let cflag = view.getUint32(TERMIOS.cflag, true);
  cflag &= ~(CFLAG.CSIZE | CFLAG.CSTOPB | CFLAG.PARENB | CFLAG.PARODD | CFLAG.CMSPAR | CFLAG.CRTSCTS | CFLAG.HUPCL);
  cflag |= ({ 5: CFLAG.CS5, 6: CFLAG.CS6, 7: CFLAG.CS7, 8: CFLAG.CS8 } as Record<number, number>)[o.dataBits] ?? CFLAG.CS8;
  if (o.stopBits !== 1) cflag |= CFLAG.CSTOPB;
  switch (o.parity) {
    case "none":
      break;
    case "even":
      cflag |= CFLAG.PARENB;
      break;
    case "odd":
      cflag |= CFLAG.PARENB | CFLAG.PARODD;
      break;
    case "mark":
      cflag |= CFLAG.PARENB | CFLAG.PARODD | CFLAG.CMSPAR;
      break;
    case "space":
      cflag |= CFLAG.PARENB | CFLAG.CMSPAR;
      break;
    default:
      throw new Error(`${o.path}: parity ${JSON.stringify(o.parity)} is not none, even, odd, mark or space`);
  }
  if (o.rtscts) cflag |= CFLAG.CRTSCTS;
  if (o.hupcl) cflag |= CFLAG.HUPCL;
  cflag |= CFLAG.CLOCAL | CFLAG.CREAD;
  view.setUint32(TERMIOS.cflag, cflag >>> 0, true);
  let iflag = view.getUint32(TERMIOS.iflag, true) & ~(IFLAG.IXON | IFLAG.IXOFF | IFLAG.IXANY | IFLAG.INPCK);
  if (o.xon) iflag |= IFLAG.IXON;
  if (o.xoff) iflag |= IFLAG.IXOFF;
  if (o.xany) iflag |= IFLAG.IXANY;
  if (o.parity !== "none") iflag |= IFLAG.INPCK;
  view.setUint32(TERMIOS.iflag, iflag >>> 0, true);
  t[TERMIOS.cc + TERMIOS.VMIN] = 1;
  t[TERMIOS.cc + TERMIOS.VTIME] = 0;
  const speed = baudCode(o.baudRate, o.path);
  check(c.cfsetispeed(t, speed), "cfsetispeed", o.path);
  check(c.cfsetospeed(t, speed), "cfsetospeed", o.path);
  check(c.tcsetattr(fd, TCSANOW, t), "tcsetattr", o.path);
}

export class PosixPort implements BindingPortInterface {
  isOpen = true;
  private readonly reader = new FdReader();
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly fd: number,
    readonly openOptions: Required<OpenOptions>,
  ) {
    this.reader.start(
      fd,
      (chunk) => {
        this.pending.push(chunk);
        this.pendingBytes += chunk.length;
        this.wakeReader();
      },
      (error) => {
        // EIO or end of stream: the adapter was unplugged or the other side went away.
        this.failure = error ?? new Error(`${openOptions.path}: device disconnected`);
        this.wakeReader();
      },
    );
  }

  private wakeReader(): void {
    const w = this.readWaiter;
    this.readWaiter = undefined;
    w?.resolve();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.pendingBytes === 0) {
      if (!this.isOpen) throw canceled(this.openOptions.path);
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => (this.readWaiter = { resolve, reject }));
    }
    let bytesRead = 0;
    while (bytesRead < length && this.pending.length) {
      const chunk = this.pending[0]!;
      const n = Math.min(chunk.length, length - bytesRead);
      buffer.set(chunk.subarray(0, n), offset + bytesRead);
      bytesRead += n;
      if (n === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(n);
    }
    this.pendingBytes -= bytesRead;
    return { buffer, bytesRead };
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw canceled(this.openOptions.path);
    await writeAll(this.fd, buffer, this.openOptions.path);
  }

  async update(options: UpdateOptions): Promise<void> {
    configure(this.fd, { ...this.openOptions, baudRate: options.baudRate });
    this.openOptions.baudRate = options.baudRate;
  }

  async set(options: SetOptions): Promise<void> {
    const c = libc();
    const bits = new Int32Array(1);
    check(c.ioctl(this.fd, IOCTL.TIOCMGET, bits), "ioctl(TIOCMGET)", this.openOptions.path);
    let v = bits[0]!;
    v = options.dtr === false ? v & ~MODEM.DTR : v | MODEM.DTR;
    v = options.rts === false ? v & ~MODEM.RTS : v | MODEM.RTS;
    bits[0] = v;
    check(c.ioctl(this.fd, IOCTL.TIOCMSET, bits), "ioctl(TIOCMSET)", this.openOptions.path);
    check(c.ioctl(this.fd, options.brk ? IOCTL.TIOCSBRK : IOCTL.TIOCCBRK, null), "ioctl(break)", this.openOptions.path);
  }

  async get(): Promise<PortStatus> {
    const bits = new Int32Array(1);
    check(libc().ioctl(this.fd, IOCTL.TIOCMGET, bits), "ioctl(TIOCMGET)", this.openOptions.path);
    const v = bits[0]!;
    return { cts: (v & MODEM.CTS) !== 0, dsr: (v & MODEM.DSR) !== 0, dcd: (v & MODEM.CAR) !== 0 };
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.openOptions.baudRate };
  }

  async flush(): Promise<void> {
    check(libc().tcflush(this.fd, TCIOFLUSH), "tcflush", this.openOptions.path);
    this.pending = [];
    this.pendingBytes = 0;
  }

  async drain(): Promise<void> {
    // tcdrain blocks until the UART has sent everything: at most a few ms at serial speeds.
    for (;;) {
      if (libc().tcdrain(this.fd) === 0) return;
      if (errno() !== ERRNO.EINTR) throw new SystemError("tcdrain", errno(), this.openOptions.path);
    }
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    await this.reader.stop();
    libc().ioctl(this.fd, IOCTL.TIOCNXCL, null);
    closeFd(this.fd, this.openOptions.path);
    this.wakeReader();
  }
}

export function openPosixPort(options: OpenOptions): PosixPort {
  const o = { ...DEFAULT_OPEN_OPTIONS, ...options } as Required<OpenOptions>;
  baudCode(o.baudRate, o.path);
  const c = libc();
  const fd = c.open(cString(o.path), O.RDWR | O.NOCTTY | O.NONBLOCK | O.CLOEXEC, 0);
  if (fd < 0) throw new SystemError("open", errno(), o.path);
  try {
    if (o.lock) check(c.ioctl(fd, IOCTL.TIOCEXCL, null), "ioctl(TIOCEXCL)", o.path);
    configure(fd, o);
    check(c.tcflush(fd, TCIOFLUSH), "tcflush", o.path);
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return new PosixPort(fd, o);
}
