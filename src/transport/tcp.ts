// TCP serial servers: `socket://host:port`, the way factories reach fixtures through serial
// device servers (raw TCP mode; RFC 2217 option negotiation is not used).
import { connect, type Socket } from "node:net";
import { UsageError, SwtoolError } from "../lib/errors.ts";

export const SOCKET_PREFIX = "socket://";

export function parseSocketUrl(spec: string): { host: string; port: number } {
  const m = /^socket:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port > 0 && port < 65536)) {
    throw new UsageError(`port ${JSON.stringify(spec)} is not a socket://host:port address`, {
      advice: "write a TCP serial server as socket://HOST:PORT, e.g. socket://10.0.0.5:4001",
    });
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** A connected TCP serial server and how to close it. */
export interface SerialServerSocket {
  socket: Socket;
  close(): Promise<void>;
}

export async function connectSerialServer(spec: string, options: { connectTimeoutMs?: number } = {}): Promise<SerialServerSocket> {
  const { host, port } = parseSocketUrl(spec);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const socket: Socket = await new Promise((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new SwtoolError(`${spec}: no connection within ${timeoutMs} ms`, { advice: "check the serial server's address, power and network cable" }));
    }, timeoutMs);
    s.once("connect", () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(new SwtoolError(`${spec}: cannot connect (${e.message})`, { advice: "check the serial server's address and that no other program holds the port", cause: e }));
    });
  });
  socket.setNoDelay(true);
  const close = () =>
    new Promise<void>((resolve) => {
      if (socket.destroyed) return resolve();
      socket.once("close", () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 200).unref();
    });
  return { socket, close };
}
