// The simulator's HTTP face: the same API as yubihsm-connector (`GET /connector/status`,
// `POST /connector/api`), so swtool and Yubico's own libraries talk to it unchanged. Commands
// are applied one at a time, with the latency model's delays when asked.
import { UsageError } from "../../lib/errors.ts";
import { SimulatedHsm } from "./device.ts";
import { commandLatencyMs, type LatencyProfile } from "./latency.ts";
import { sleep } from "../../lib/sleep.ts";

export interface HsmSimulatorOptions {
  /** host:port to listen on; "127.0.0.1:0" (any free port) when omitted. */
  listen?: string;
  /** JSON file that keeps the objects across restarts (written atomically). */
  statePath?: string;
  latency?: LatencyProfile;
  /** Session idle timeout; 30 s like the device unless a test wants it shorter. */
  idleTimeoutMs?: number;
  /** One line per command, never key material. */
  log?: (line: string) => void;
}

export interface HsmSimulator {
  url: string;
  device: SimulatedHsm;
  stop(): Promise<void>;
}

/** The version yubihsm-connector reports; the simulator claims the same API generation. */
const CONNECTOR_VERSION = "3.0.5";

export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen ${JSON.stringify(listen)} is not host:port`, { advice: "for example --listen 127.0.0.1:12345" });
  return { hostname: m[1] ?? m[2]!, port };
}


export async function startHsmSimulator(options: HsmSimulatorOptions = {}): Promise<HsmSimulator> {
  const { hostname, port } = parseListen(options.listen ?? "127.0.0.1:0");
  const latency = options.latency ?? "none";
  if (latency !== "none" && latency !== "yubihsm2") throw new UsageError(`latency ${JSON.stringify(latency)} is not known`, { advice: "use none or yubihsm2" });
  const device = new SimulatedHsm({ statePath: options.statePath, idleTimeoutMs: options.idleTimeoutMs, log: options.log });
  // The device runs one command at a time; with latency, later commands wait their turn.
  let busy: Promise<unknown> = Promise.resolve();
  const apply = async (message: Uint8Array): Promise<Uint8Array> => {
    if (latency === "none") return device.handle(message).response;
    const turn = busy.then(async () => {
      const handled = device.handle(message);
      await sleep(commandLatencyMs(latency, handled.code, handled.payloadLength));
      return handled.response;
    });
    busy = turn.catch(() => undefined);
    return turn;
  };
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        if (path === "/connector/status" && request.method === "GET") {
          const body = `status=OK\nserial=*\nversion=${CONNECTOR_VERSION}\npid=${process.pid}\naddress=${hostname}\nport=${server.port}\n`;
          return new Response(body, { headers: { "Content-Type": "text/plain" } });
        }
        if (path === "/connector/api" && request.method === "POST") {
          const answer = await apply(new Uint8Array(await request.arrayBuffer()));
          return new Response(answer, { headers: { "Content-Type": "application/octet-stream" } });
        }
        return new Response("404 page not found\n", { status: 404 });
      },
    });
  } catch (e) {
    throw new UsageError(`cannot listen on ${hostname}:${port}: ${(e as Error).message}`, { advice: "choose another port with --listen, or stop what uses it" });
  }
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${shownHost}:${server.port}`,
    device,
    async stop() {
      device.sessions.closeAll();
      await server.stop(true);
    },
  };
}
