// Hosting the ATECC608 board simulator where the line PC can reach it: a TCP port on
// 127.0.0.1 (each connection is a board just plugged into the fixture, as behind a serial
// device server) or a pseudo-terminal (one board; the PC opens /dev/pts/N as its serial port).
import { createServer, type Server, type Socket } from "node:net";
import { openPty } from "../../transport/pty.ts";
import { Atecc608Board, type Atecc608Options } from "./atecc608.ts";

export interface Atecc608SimulatorOptions extends Atecc608Options {
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Each board as it is created. */
  onBoard?: (board: Atecc608Board) => void;
}

export interface Atecc608Simulator {
  /** What the PC opens: socket://host:port or a pty path. */
  readonly port: string;
  /** Every board presented so far, newest last. */
  readonly boards: Atecc608Board[];
  close(): Promise<void>;
}

export async function startAtecc608OnTcp(options: Atecc608SimulatorOptions = {}): Promise<Atecc608Simulator> {
  const host = options.host ?? "127.0.0.1";
  const boards: Atecc608Board[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const board = new Atecc608Board((data) => void (socket.writable && socket.write(data)), options);
    boards.push(board);
    options.onBoard?.(board);
    socket.on("data", (chunk: Buffer) => board.receive(new Uint8Array(chunk)));
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    board.boot();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : options.port;
  return {
    port: `socket://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    boards,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One board on a pseudo-terminal: it boots when the simulator starts, like a powered fixture. */
export async function startAtecc608OnPty(options: Atecc608SimulatorOptions = {}): Promise<Atecc608Simulator> {
  const pty = openPty();
  const board = new Atecc608Board((data) => void pty.write(data), options);
  options.onBoard?.(board);
  pty.onData((chunk) => board.receive(chunk));
  board.boot();
  return {
    port: pty.path,
    boards: [board],
    close: () => pty.close(),
  };
}
