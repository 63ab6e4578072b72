// A byte channel to one device for the provisioning conversation: bytes, not lines, because
// secure-element firmware answers some requests without a line end (the ATECC608 example
// prints its serial number bare). Carried by any Node duplex stream: a TCP serial server
// (`socket://host:port`) or a serial port / pseudo-terminal opened through src/device.
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { openSerialStream } from "../../device/open.ts";
import { SwtoolError, UsageError } from "../../errors.ts";

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

const SOCKET = /^socket:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/;

/** Connects to a TCP serial server, `socket://host:port`. */
export async function openTcpChannel(spec: string, connectTimeoutMs = 5000): Promise<ByteChannel> {
  const m = SOCKET.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new UsageError(`port ${JSON.stringify(spec)} is not a socket://host:port address`, { advice: "e.g. socket://10.0.0.5:4001" });
  }
  const host = m[1]!.replace(/^\[|\]$/g, "");
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new SwtoolError(`${spec}: no connection within ${connectTimeoutMs} ms`, { advice: "check the serial server's address, power and network" }));
    }, connectTimeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(new SwtoolError(`${spec}: cannot connect (${e.message})`, { advice: "check that the device or simulator is listening there", cause: e }));
    });
  });
  socket.setNoDelay(true);
  return channelFromStream(spec, socket, () => new Promise<void>((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once("close", () => resolve());
    socket.end();
    setTimeout(() => socket.destroy(), 200).unref();
  }));
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
