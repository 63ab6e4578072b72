// Test helpers for the production line: a test-PKI signer, a seeded random source for the
// simulator's faults, and the rehearsal station (src/demo/station.ts) run against simulated
// fixtures in a temporary directory.
import { runRehearsalStation } from "../../src/demo/station.ts";
import type { DsnSource } from "../../src/device/dsn.ts";
import type { LineEvent, LineOptions, LineSummary } from "../../src/device/line.ts";
import { startDeviceSimulator, type DeviceSimulator, type DeviceSimulatorOptions } from "../../src/device/simulator/host.ts";
import type { Ledger } from "../../src/ledger/ledger.ts";
import { makeTestPki, MemorySigner, type DakSigner } from "../../src/sidewalk/index.ts";
import { tempDir } from "../helpers/temp.ts";

export { DEMO_DEVICE_TYPE as DEVICE_TYPE, DEMO_APID as APID, DEMO_APP_SERVER_KEY as APP_KEY } from "../../src/demo/station.ts";
export { controlLogsIn as controlLogs } from "../../src/demo/station.ts";
export { tempDir } from "../helpers/temp.ts";

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
  /** Called once the fixtures exist, before the line starts (a test that acts as the operator). */
  onSimulator?: (sim: DeviceSimulator) => void,
): Promise<StationRun> {
  const dir = line.dir ?? tempDir();
  const sim = await startDeviceSimulator(simOptions);
  onSimulator?.(sim);
  const events: LineEvent[] = [];
  try {
    const { summary, ledger } = await runRehearsalStation({
      ports: sim.ports,
      signer: line.signer ?? testSigner(),
      dir,
      protocol: { timeoutMs: 400 },
      presence: { intervalMs: 50 },
      dsnTemplate: "SN{seq:7}",
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
