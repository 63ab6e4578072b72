// Opening a fixture's port by the name the operator gave: `socket://host:port` for a TCP
// serial server, anything else a serial port (/dev/ttyUSB0, COM3) opened through
// serialport's SerialPortStream over swtool's own Bun binding.
import { SerialPortStream } from "@serialport/stream";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import { channelFromStream, type ByteChannel } from "./channel.ts";
import { linkFromChannel, type DeviceLink } from "./link.ts";
import { BunSerialBinding } from "./serial/binding.ts";
import { lockPort } from "./port-lock.ts";
import { connectSerialServer, SOCKET_PREFIX } from "./tcp.ts";

export interface SerialSettings {
  baudRate?: number;
  dataBits?: 5 | 6 | 7 | 8;
  parity?: "none" | "even" | "odd" | "mark" | "space";
  stopBits?: 1 | 1.5 | 2;
  rtscts?: boolean;
  xon?: boolean;
  xoff?: boolean;
  /** Exclusive open (default true): a second program cannot talk to the same fixture. */
  lock?: boolean;
}

export const DEFAULT_BAUD_RATE = 115200;

/** Refuses an empty port name (`--port ""`, a blank line in a script) before anything opens it. */
export function checkPortName(port: string): string {
  if (port.trim() === "") {
    throw new UsageError(`--port ${JSON.stringify(port)} names no port`, { advice: "give the fixture's port, e.g. /dev/ttyUSB0, COM3 or socket://host:port (`swtool ports` lists the serial ports)" });
  }
  return port;
}

/** Opens the device's port as bytes: `socket://host:port`, or a serial port / pseudo-terminal path. */
export async function openDeviceChannel(port: string, settings: SerialSettings = {}): Promise<ByteChannel> {
  checkPortName(port);
  if (port.startsWith(SOCKET_PREFIX)) {
    const { socket, close } = await connectSerialServer(port);
    return channelFromStream(port, socket, close);
  }
  // TIOCEXCL (lock: true) does not stop root: a lock file does, for every program that honours it.
  const lock = settings.lock === false ? undefined : lockPort(port);
  let stream: SerialPortStream;
  try {
    stream = await openSerialStream(port, settings);
  } catch (e) {
    lock?.release();
    throw e;
  }
  const channel = channelFromStream(port, stream, () => new Promise<void>((resolve) => (stream.isOpen ? stream.close(() => resolve()) : resolve())));
  channel.onClose(() => lock?.release());
  return channel;
}

/** Opens the device's port as text lines (the Sidewalk `cert` CLI). */
export async function openDeviceLink(port: string, settings: SerialSettings = {}): Promise<DeviceLink> {
  return linkFromChannel(await openDeviceChannel(port, settings));
}

async function openSerialStream(port: string, settings: SerialSettings = {}): Promise<SerialPortStream> {
  const stream = new SerialPortStream({
    binding: BunSerialBinding,
    path: port,
    baudRate: settings.baudRate ?? DEFAULT_BAUD_RATE,
    dataBits: settings.dataBits ?? 8,
    parity: settings.parity ?? "none",
    stopBits: settings.stopBits ?? 1,
    rtscts: settings.rtscts ?? false,
    xon: settings.xon ?? false,
    xoff: settings.xoff ?? false,
    lock: settings.lock ?? true,
    autoOpen: false,
  });
  await new Promise<void>((resolve, reject) =>
    stream.open((e) => {
      if (!e) return resolve();
      // The Windows binding words a port another program holds itself: one line, nothing to add.
      if ((e as { busy?: true }).busy || / is in use by another program /.test(e.message)) return reject(new SwtoolError(e.message, { cause: e }));
      const busy = /EBUSY|Device or resource busy|Access is denied|error 5\)/.test(e.message);
      reject(
        new SwtoolError(`cannot open ${port}: ${e.message}`, {
          advice: busy
            ? "another program (or another swtool) has the port open; close it first"
            : "check the port name with `swtool ports`, the cable, and that you may use the port (Linux: the dialout group)",
          cause: e,
        }),
      );
    }),
  );
  return stream;
}
