// A byte channel to one device, whatever carries it: a serial port or pseudo-terminal (through
// serialport's stream API over swtool's Bun binding) or a TCP serial server. The Sidewalk
// line reads it as text lines (link.ts); secure-element provisioning (src/x509/provision)
// reads raw bytes, because that firmware answers some requests without a line end.
import type { Duplex } from "node:stream";
import { SwtoolError } from "../lib/errors.ts";

export interface ByteChannel {
  /** How the operator named the port (`/dev/ttyUSB0`, `COM3`, `socket://10.0.0.5:4001`). */
  readonly name: string;
  write(data: Uint8Array): Promise<void>;
  /** The one consumer of received bytes. */
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Called once when the channel goes away (unplugged, connection closed, or close()). */
  onClose(handler: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** Wraps a byte stream (SerialPortStream, net.Socket) as a ByteChannel. */
export function channelFromStream(name: string, stream: Duplex, closeStream: () => Promise<void>): ByteChannel {
  let dataHandler: (chunk: Uint8Array) => void = () => {};
  const closeHandlers: ((error?: Error) => void)[] = [];
  let closed = false;
  let closeError: Error | undefined;
  const finish = (error?: Error) => {
    if (closed) return;
    closed = true;
    closeError = error;
    for (const h of closeHandlers) h(error);
  };
  stream.on("data", (chunk: Buffer) => dataHandler(new Uint8Array(chunk)));
  stream.on("error", (e: Error) => finish(e));
  stream.on("close", () => finish());
  stream.on("end", () => finish());
  return {
    name,
    write(data) {
      if (closed) return Promise.reject(new SwtoolError(`${name}: the connection to the device is closed`, { cause: closeError }));
      return new Promise((resolve, reject) => stream.write(data, (e) => (e ? reject(e) : resolve())));
    },
    onData(handler) {
      dataHandler = handler;
    },
    onClose(handler) {
      if (closed) handler(closeError);
      else closeHandlers.push(handler);
    },
    async close() {
      if (closed) return;
      dataHandler = () => {};
      await closeStream();
      finish();
    },
  };
}
