// Test helpers for the production line: a test-PKI signer, a seeded random source for the
// simulator's faults, and a station run against simulated fixtures in a temporary directory.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dsnTemplate, type DsnSource } from "../../src/device/dsn.ts";
import { runLine, type LineEvent, type LineOptions, type LineSummary } from "../../src/device/line.ts";
import { startDeviceSimulator, type DeviceSimulator, type DeviceSimulatorOptions } from "../../src/device/simulator/host.ts";
import { openLedger, type Ledger } from "../../src/ledger/ledger.ts";
import { parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { fromBase64, makeTestPki, MemorySigner, type DakSigner } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

export const DEVICE_TYPE = "A17XHX23H06INH";
export const APID = "pd25";
export const APP_KEY = fromBase64(seed.app_server_public_key_base64);

export function testSigner(): MemorySigner {
  return new MemorySigner("TEST_DAK_LINE", "test", { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") });
}

/** mulberry32: the same faults in the same places on every run. */
export function seededRandom(seedValue: number): () => number {
  let a = seedValue >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function tempDir(prefix = "swtool-line-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function controlLogs(dir: string): ControlLogEntry[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith("C_CONTROL_LOG_"))
    .flatMap((f) => parseControlLog(readFileSync(join(dir, f), "utf8")));
}

export interface StationRun {
  summary: LineSummary;
  events: LineEvent[];
  sim: DeviceSimulator;
  dir: string;
  ledger: Ledger;
}

export async function runStation(
  simOptions: DeviceSimulatorOptions,
  line: Partial<LineOptions> & { signer?: DakSigner; dsnSource?: DsnSource; dir?: string; ledger?: Ledger } = {},
): Promise<StationRun> {
  const dir = line.dir ?? tempDir();
  const ledger = line.ledger ?? await openLedger(join(dir, "swtool.db"));
  const sim = await startDeviceSimulator(simOptions);
  const events: LineEvent[] = [];
  try {
    const summary = await runLine({
      ports: sim.ports,
      signer: line.signer ?? testSigner(),
      deviceType: DEVICE_TYPE,
      apid: APID,
      appServerPublicKey: APP_KEY,
      dsnSource: line.dsnSource ?? dsnTemplate("SN{seq:7}", 1, ledger),
      ledger,
      controlLogDir: dir,
      protocol: { timeoutMs: 400 },
      presence: { intervalMs: 50 },
      ...line,
      onEvent: (e) => {
        events.push(e);
        line.onEvent?.(e);
      },
    });
    return { summary, events, sim, dir, ledger };
  } finally {
    await sim.close();
  }
}
