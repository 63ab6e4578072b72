// A byte channel to one device for the provisioning conversation: bytes, not lines, because
// secure-element firmware answers some requests without a line end (the ATECC608 example
// prints its serial number bare). Carried by any Node duplex stream: a TCP serial server
// (`socket://host:port`) or a serial port / pseudo-terminal opened through src/device.
import type { Duplex } from "node:stream";
import { openSerialStream } from "../../device/open.ts";
import { connectSerialServer } from "../../device/tcp.ts";
import { SwtoolError } from "../../errors.ts";

export interface ByteChannel {
  /** The port as the operator named it. */
  readonly name: string;
  write(data: Uint8Array): Promise<void>;
  /** The one consumer of received bytes. */
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Called once when the channel goes away. */
  onClose(handler: (error?: Error) => void): void;
  close(): Promise<void>;
}

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
      await closeStream();
      finish();
    },
  };
}

/** Connects to a TCP serial server, `socket://host:port`. */
export async function openTcpChannel(spec: string, connectTimeoutMs = 5000): Promise<ByteChannel> {
  const { socket, close } = await connectSerialServer(spec, { connectTimeoutMs });
  return channelFromStream(spec, socket, close);
}

/** Opens the device's port: `socket://host:port`, or a serial port / pseudo-terminal path. */
export async function openChannel(port: string): Promise<ByteChannel> {
  if (port.startsWith("socket://")) return openTcpChannel(port);
  return openSerialChannel(port);
}

async function openSerialChannel(port: string): Promise<ByteChannel> {
  const stream = await openSerialStream(port);
  return channelFromStream(port, stream, () => new Promise<void>((resolve) => (stream.isOpen ? stream.close(() => resolve()) : resolve())));
}
