// A device link: a text line channel to one device, whatever carries it (a serial port through
// serialport's stream API, or a TCP serial server). Bytes are split into lines by
// serialport's ReadlineParser; the device's lines end in LF or CR LF.
import type { Duplex } from "node:stream";
import { ReadlineParser } from "@serialport/parser-readline";

export interface DeviceLink {
  /** How the operator named the port (`/dev/ttyUSB0`, `COM3`, `socket://10.0.0.5:4001`). */
  readonly name: string;
  /** Sends text as bytes (latin1, so every char code below 256 is one byte). */
  write(text: string): Promise<void>;
  /** The one consumer of received lines (without the line end). */
  onLine(handler: (line: string) => void): void;
  /** Called once when the link goes away (unplugged, connection closed, or close()). */
  onClose(handler: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** Wraps a byte stream (SerialPortStream, net.Socket) as a DeviceLink. */
export function linkFromStream(name: string, stream: Duplex, closeStream: () => Promise<void>): DeviceLink {
  const parser = stream.pipe(new ReadlineParser({ delimiter: "\n", encoding: "latin1" }));
  let lineHandler: (line: string) => void = () => {};
  const closeHandlers: ((error?: Error) => void)[] = [];
  let closed = false;
  let closeError: Error | undefined;
  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    closeError = error;
    for (const h of closeHandlers) h(error);
  };
  parser.on("data", (line: string) => lineHandler(line));
  stream.on("error", (e: Error) => finish(e));
  stream.on("close", () => finish());
  stream.on("end", () => finish());
  return {
    name,
    write(text) {
      if (closed) return Promise.reject(closeError ?? new Error(`${name} is closed`));
      return new Promise((resolve, reject) => {
        stream.write(Buffer.from(text, "latin1"), (e) => (e ? reject(e) : resolve()));
      });
    },
    onLine(handler) {
      lineHandler = handler;
    },
    onClose(handler) {
      if (closed) handler(closeError);
      else closeHandlers.push(handler);
    },
    async close() {
      if (closed) return;
      stream.unpipe(parser);
      await closeStream();
      finish();
    },
  };
}
