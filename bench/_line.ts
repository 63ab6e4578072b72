// Shared by bench/line.ts and bench/soak.ts: the device simulator in its own process (so the
// bench process's CPU time is swtool's alone), and a station against it and an HSM.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_APID, DEMO_APP_SERVER_KEY, DEMO_DEVICE_TYPE } from "../src/demo/demo.ts";
import { dsnTemplate } from "../src/device/dsn.ts";
import { runLine, type LineOptions, type LineSummary } from "../src/device/line.ts";
import { openLedger, type Ledger } from "../src/ledger/ledger.ts";
import type { DakSigner } from "../src/sidewalk/signer.ts";
import { REPO } from "./_lib.ts";

/**
 * A station with the demo's device type, APID and key in a fresh temporary directory, its
 * ledger there and DSNs from `PREFIX{seq:8}`; `extra` adds or overrides line options.
 */
export async function runBenchStation(
  ports: string[],
  signer: DakSigner,
  dsnPrefix: string,
  extra: Partial<LineOptions> = {},
): Promise<{ summary: LineSummary; dir: string; ledger: Ledger }> {
  const dir = mkdtempSync(join(tmpdir(), "bench-line-"));
  const ledger = await openLedger(join(dir, "swtool.db"));
  const summary = await runLine({
    ports,
    signer,
    deviceType: DEMO_DEVICE_TYPE,
    apid: DEMO_APID,
    appServerPublicKey: DEMO_APP_SERVER_KEY,
    dsnSource: dsnTemplate(`${dsnPrefix}{seq:8}`, 1, ledger),
    ledger,
    controlLogDir: dir,
    ...extra,
  });
  return { summary, dir, ledger };
}

/** Starts `swtool device simulate --json` from source and returns its ports. */
export async function spawnDeviceSimulator(args: string[]) {
  const proc = Bun.spawn([process.execPath, join(REPO, "src", "main.ts"), "device", "simulate", "--json", ...args], { stdout: "pipe", stderr: "ignore" });
  const reader = proc.stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("device simulator exited");
    text += new TextDecoder().decode(value);
    const ready = text.split("\n").find((l) => l.includes('"ready"'));
    if (ready) {
      // Keep draining its stdout (stored events) so the pipe never fills.
      void (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return { ports: JSON.parse(ready).ports as string[], pid: proc.pid, stop: async () => (proc.kill("SIGINT"), await proc.exited) };
    }
  }
}
