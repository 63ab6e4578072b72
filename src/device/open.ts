// Opening a fixture's port by the name the operator gave: `socket://host:port` for a TCP
// serial server, anything else a serial port (/dev/ttyUSB0, COM3) opened through
// serialport's SerialPortStream over swtool's own Bun binding.
import { SerialPortStream } from "@serialport/stream";
import { SwtoolError } from "../errors.ts";
import { linkFromStream, type DeviceLink } from "./link.ts";
import { BunSerialBinding } from "./serial/binding.ts";
import { openTcpLink, SOCKET_PREFIX } from "./tcp.ts";

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

export async function openDeviceLink(port: string, settings: SerialSettings = {}): Promise<DeviceLink> {
  if (port.startsWith(SOCKET_PREFIX)) return openTcpLink(port);
  const stream = await openSerialStream(port, settings);
  return linkFromStream(port, stream, () => new Promise<void>((resolve) => (stream.isOpen ? stream.close(() => resolve()) : resolve())));
}

/** Opens a serial port (or pseudo-terminal) as a raw byte stream, for callers that need bytes, not lines. */
export async function openSerialStream(port: string, settings: SerialSettings = {}): Promise<SerialPortStream> {
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
