// Hosting simulated fixtures where the line PC can reach them: on pseudo-terminals (the PC
// opens /dev/pts/N as a serial port) or on TCP ports on 127.0.0.1 (as a serial device server
// would offer them, one client at a time). Used by `swtool device simulate`, the tests, the
// benchmarks and the demo.
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../../lib/errors.ts";
import { sleep } from "../../lib/sleep.ts";
import { openPty, type Pty } from "../../transport/pty.ts";
import { FixtureSimulator, type DeviceRecord, type FixtureOptions } from "./shell.ts";

export interface DeviceSimulatorOptions extends FixtureOptions {
  /** Number of fixtures (ports), default 1. */
  fixtures?: number;
  /** "pty" (default) or "tcp". */
  transport?: "pty" | "tcp";
  /** For tcp: host and first port (0: any free port per fixture). */
  host?: string;
  port?: number;
  /** Every successful `cert store`, as it happens. */
  onStored?: (record: DeviceRecord) => void;
  /**
   * Boards with their own USB UART (CDC-ACM, J-Link VCOM): the port disappears while the
   * fixture is empty. Pty fixtures are then reached through a stable path (a symlink in a
   * temporary folder, like /dev/serial/by-id) that is removed with the board and made again,
   * to a new pseudo-terminal, for the next one.
   */
  reenumerate?: boolean;
}

export interface DeviceSimulator {
  /** What the PC opens: pty paths, or socket://host:port addresses. */
  readonly ports: string[];
  readonly fixtures: FixtureSimulator[];
  /** Every device presented so far, in every fixture. */
  devices(): DeviceRecord[];
  /** Resolves when every fixture has presented `count` devices (never without `count`). */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(spec);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen ${JSON.stringify(spec)} is not HOST:PORT`, { advice: "e.g. --listen 127.0.0.1:4001 (port 0: any free port)" });
  return { host: (m[1] ?? "127.0.0.1").replace(/^\[|\]$/g, ""), port };
}

async function hostOnPty(fixture: number, options: DeviceSimulatorOptions): Promise<{ port: string; sim: FixtureSimulator; close: () => Promise<void> }> {
  let pty: Pty | undefined = openPty();
  const sim = new FixtureSimulator(fixture, (data) => pty?.write(data), options, options.onStored);
  pty.onData((chunk) => sim.input(chunk));
  if (!options.reenumerate) {
    return {
      port: pty.path,
      sim,
      close: async () => {
        sim.stop();
        await pty?.close();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "swtool-fixture-"));
  const link = join(dir, `fixture${fixture}`);
  symlinkSync(pty.path, link);
  sim.onRemoved = async () => {
    // The PC reads the last answer before the cable goes (a closed master drops unread bytes).
    await sleep(50);
    const old = pty;
    pty = undefined;
    rmSync(link, { force: true });
    await old?.close();
  };
  sim.onInserted = () => {
    const next = openPty();
    next.onData((chunk) => sim.input(chunk));
    pty = next;
    symlinkSync(next.path, link);
  };
  return {
    port: link,
    sim,
    close: async () => {
      sim.stop();
      await pty?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function hostOnTcp(fixture: number, host: string, port: number, options: DeviceSimulatorOptions): Promise<{ port: string; sim: FixtureSimulator; close: () => Promise<void> }> {
  let client: Socket | undefined;
  // Bytes the device sends while no client is connected are lost, as on a real UART.
  const sim = new FixtureSimulator(fixture, (data) => void client?.write(data), options, options.onStored);
  const server: Server = createServer((socket) => {
    if (client) {
      socket.end("port busy\r\n");
      return;
    }
    client = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => sim.input(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      if (client === socket) client = undefined;
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  return {
    port: `socket://${host.includes(":") ? `[${host}]` : host}:${bound}`,
    sim,
    close: async () => {
      sim.stop();
      client?.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function startDeviceSimulator(options: DeviceSimulatorOptions = {}): Promise<DeviceSimulator> {
  const count = options.fixtures ?? 1;
  const hosted: Awaited<ReturnType<typeof hostOnPty>>[] = [];
  try {
    for (let i = 1; i <= count; i++) {
      if (options.transport === "tcp") {
        const first = options.port ?? 0;
        hosted.push(await hostOnTcp(i, options.host ?? "127.0.0.1", first === 0 ? 0 : first + i - 1, options));
      } else hosted.push(await hostOnPty(i, options));
    }
  } catch (e) {
    await Promise.all(hosted.map((h) => h.close()));
    throw e;
  }
  return {
    ports: hosted.map((h) => h.port),
    fixtures: hosted.map((h) => h.sim),
    devices: () => hosted.flatMap((h) => h.sim.devices),
    done: Promise.all(hosted.map((h) => h.sim.done)).then(() => {}),
    close: async () => {
      await Promise.all(hosted.map((h) => h.close()));
    },
  };
}
