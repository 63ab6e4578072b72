// Shared by bench/line.ts and bench/soak.ts: the device simulator in its own process (so the
// bench process's CPU time is swtool's alone), and the rehearsal station against it and an HSM.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runRehearsalStation } from "../src/demo/station.ts";
import type { LineOptions, LineSummary } from "../src/device/line.ts";
import type { Ledger } from "../src/ledger/ledger.ts";
import type { DakSigner } from "../src/sidewalk/signer.ts";
import { spawnSwtool } from "../harness/process.ts";

/** The rehearsal station in a fresh temporary directory, DSNs `PREFIX{seq:8}`; `extra` adds or overrides line options. */
export async function runBenchStation(
  ports: string[],
  signer: DakSigner,
  dsnPrefix: string,
  extra: Partial<LineOptions> = {},
): Promise<{ summary: LineSummary; dir: string; ledger: Ledger }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-line-"));
  const { summary, ledger } = await runRehearsalStation({ ports, signer, dir, dsnTemplate: `${dsnPrefix}{seq:8}`, ...extra });
  return { summary, dir, ledger };
}

/** Starts `swtool device simulate --json` from source and returns its ports. */
export async function spawnDeviceSimulator(args: string[]) {
  const sim = await spawnSwtool(["device", "simulate", "--json", ...args], { fromSource: true, stderr: "ignore" });
  return { ports: sim.first.ports as string[], pid: sim.pid, stop: sim.stop };
}
