// serialport's binding interface for Bun on Windows: the Win32 communications API
// (CreateFileW, Get/SetCommState with a DCB, SetCommTimeouts, ReadFile/WriteFile, PurgeComm,
// EscapeCommFunction, GetCommModemStatus) through bun:ffi. Reads return at once
// (ReadIntervalTimeout = MAXDWORD) and are polled every few milliseconds while the port is
// open; writes are synchronous with a 5 s total timeout. Same contract as posix-binding.ts.
import type { BindingPortInterface, OpenOptions, PortStatus, SetOptions, UpdateOptions } from "@serialport/bindings-interface";
import { dlopen, FFIType } from "bun:ffi";
import { DEFAULT_OPEN_OPTIONS } from "./posix-binding.ts";
import { sleep } from "../../lib/sleep.ts";

const { i32, u32, i64, ptr } = FFIType;

const SYMBOLS = {
  CreateFileW: { args: [ptr, u32, u32, ptr, u32, u32, i64], returns: i64 },
  CloseHandle: { args: [i64], returns: i32 },
  GetCommState: { args: [i64, ptr], returns: i32 },
  SetCommState: { args: [i64, ptr], returns: i32 },
  SetCommTimeouts: { args: [i64, ptr], returns: i32 },
  ReadFile: { args: [i64, ptr, u32, ptr, ptr], returns: i32 },
  WriteFile: { args: [i64, ptr, u32, ptr, ptr], returns: i32 },
  PurgeComm: { args: [i64, u32], returns: i32 },
  FlushFileBuffers: { args: [i64], returns: i32 },
  EscapeCommFunction: { args: [i64, u32], returns: i32 },
  GetCommModemStatus: { args: [i64, ptr], returns: i32 },
  GetLastError: { args: [], returns: u32 },
} as const;

type Kernel32 = ReturnType<typeof dlopen<typeof SYMBOLS>>["symbols"];
let kernel32: Kernel32 | undefined;
const k32 = (): Kernel32 => (kernel32 ??= dlopen("kernel32.dll", SYMBOLS).symbols);

const GENERIC_READ_WRITE = 0xc0000000;
const OPEN_EXISTING = 3;
const MAXDWORD = 0xffffffff;
const PURGE_TX_RX_CLEAR = 0x0004 | 0x0008;
const ESCAPE = { SETRTS: 3, CLRRTS: 4, SETDTR: 5, CLRDTR: 6, SETBREAK: 8, CLRBREAK: 9 } as const;
const MS = { CTS: 0x10, DSR: 0x20, RLSD: 0x80 } as const;
const POLL_MS = 2;

// DCB: DCBlength, BaudRate, flag bits, wReserved, XonLim, XoffLim, ByteSize, Parity, StopBits, ...
const DCB_SIZE = 28;
const PARITY: Record<string, number> = { none: 0, odd: 1, even: 2, mark: 3, space: 4 };

class Win32Error extends Error {
  constructor(call: string, what: string) {
    super(`${what}: ${call} failed (Windows error ${k32().GetLastError()})`);
  }
}

function ok(result: number, call: string, what: string): void {
  if (!result) throw new Win32Error(call, what);
}

// Another process has the port: CreateFileW with share mode 0 fails with ERROR_ACCESS_DENIED
// for a COM port (serial.sys opens exclusively), ERROR_SHARING_VIOLATION for other devices.
const ERROR_ACCESS_DENIED = 5;
const ERROR_SHARING_VIOLATION = 32;

/** Why CreateFileW could not open the port, as the operator should read it; `busy` when another program has it. */
export function openFailure(path: string, error: number): Error & { busy?: true } {
  if (error === ERROR_ACCESS_DENIED || error === ERROR_SHARING_VIOLATION) {
    return Object.assign(new Error(`${path} is in use by another program (another swtool or a terminal); close it or pick another port`), { busy: true as const });
  }
  return new Error(`${path}: CreateFileW failed (Windows error ${error})`);
}

const canceled = (what: string) => Object.assign(new Error(`${what}: port closed`), { canceled: true });

function configure(handle: bigint, o: Required<OpenOptions>): void {
  const dcb = new Uint8Array(DCB_SIZE);
  const view = new DataView(dcb.buffer);
  view.setUint32(0, DCB_SIZE, true);
  ok(k32().GetCommState(handle, dcb), "GetCommState", o.path);
  view.setUint32(4, o.baudRate, true);
  let flags = 0x1; // fBinary
  if (o.parity !== "none") flags |= 0x2; // fParity
  if (o.rtscts) flags |= 0x4 | (2 << 12); // fOutxCtsFlow, RTS_CONTROL_HANDSHAKE
  else flags |= 1 << 12; // RTS_CONTROL_ENABLE
  flags |= 1 << 4; // DTR_CONTROL_ENABLE
  if (o.xon) flags |= 1 << 8; // fOutX
  if (o.xoff) flags |= 1 << 9; // fInX
  view.setUint32(8, flags >>> 0, true);
  const parity = PARITY[o.parity];
  if (parity === undefined) throw new Error(`${o.path}: parity ${JSON.stringify(o.parity)} is not none, even, odd, mark or space`);
  dcb[18] = o.dataBits;
  dcb[19] = parity;
  dcb[20] = o.stopBits === 1 ? 0 : o.stopBits === 1.5 ? 1 : 2;
  dcb[21] = 0x11; // XON
  dcb[22] = 0x13; // XOFF
  ok(k32().SetCommState(handle, dcb), "SetCommState", o.path);
  const timeouts = new Uint32Array([MAXDWORD, 0, 0, 0, 5000]);
  ok(k32().SetCommTimeouts(handle, timeouts), "SetCommTimeouts", o.path);
}

export class WindowsPort implements BindingPortInterface {
  isOpen = true;
  private readonly count = new Uint32Array(1);

  constructor(
    private readonly handle: bigint,
    readonly openOptions: Required<OpenOptions>,
  ) {}

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    for (;;) {
      if (!this.isOpen) throw canceled(this.openOptions.path);
      ok(k32().ReadFile(this.handle, buffer.subarray(offset, offset + length), length, this.count, null), "ReadFile", this.openOptions.path);
      if (this.count[0]! > 0) return { buffer, bytesRead: this.count[0]! };
      await sleep(POLL_MS);
    }
  }

  async write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) throw canceled(this.openOptions.path);
    let offset = 0;
    while (offset < buffer.length) {
      ok(k32().WriteFile(this.handle, buffer.subarray(offset), buffer.length - offset, this.count, null), "WriteFile", this.openOptions.path);
      if (this.count[0] === 0) throw new Error(`${this.openOptions.path}: write timed out (flow control?)`);
      offset += this.count[0]!;
    }
  }

  async update(options: UpdateOptions): Promise<void> {
    configure(this.handle, { ...this.openOptions, baudRate: options.baudRate });
    this.openOptions.baudRate = options.baudRate;
  }

  async set(options: SetOptions): Promise<void> {
    const path = this.openOptions.path;
    ok(k32().EscapeCommFunction(this.handle, options.dtr === false ? ESCAPE.CLRDTR : ESCAPE.SETDTR), "EscapeCommFunction", path);
    ok(k32().EscapeCommFunction(this.handle, options.rts === false ? ESCAPE.CLRRTS : ESCAPE.SETRTS), "EscapeCommFunction", path);
    ok(k32().EscapeCommFunction(this.handle, options.brk ? ESCAPE.SETBREAK : ESCAPE.CLRBREAK), "EscapeCommFunction", path);
  }

  async get(): Promise<PortStatus> {
    const status = new Uint32Array(1);
    ok(k32().GetCommModemStatus(this.handle, status), "GetCommModemStatus", this.openOptions.path);
    const v = status[0]!;
    return { cts: (v & MS.CTS) !== 0, dsr: (v & MS.DSR) !== 0, dcd: (v & MS.RLSD) !== 0 };
  }

  async getBaudRate(): Promise<{ baudRate: number }> {
    return { baudRate: this.openOptions.baudRate };
  }

  async flush(): Promise<void> {
    ok(k32().PurgeComm(this.handle, PURGE_TX_RX_CLEAR), "PurgeComm", this.openOptions.path);
  }

  async drain(): Promise<void> {
    ok(k32().FlushFileBuffers(this.handle), "FlushFileBuffers", this.openOptions.path);
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    ok(k32().CloseHandle(this.handle), "CloseHandle", this.openOptions.path);
  }
}

export function openWindowsPort(options: OpenOptions): WindowsPort {
  const o = { ...DEFAULT_OPEN_OPTIONS, ...options } as Required<OpenOptions>;
  // COM10 and above need the device namespace; it works for COM1..9 too.
  const device = o.path.startsWith("\\\\.\\") ? o.path : `\\\\.\\${o.path}`;
  const name = Buffer.from(`${device}\0`, "utf16le");
  const handle = BigInt(k32().CreateFileW(name, GENERIC_READ_WRITE, 0, null, OPEN_EXISTING, 0, 0n));
  if (handle === -1n) throw openFailure(o.path, k32().GetLastError());
  try {
    configure(handle, o);
    k32().PurgeComm(handle, PURGE_TX_RX_CLEAR);
  } catch (e) {
    k32().CloseHandle(handle);
    throw e;
  }
  return new WindowsPort(handle, o);
}
