// A rehearsal station: the line (runLine) with the demo's device type, APID and application
// server key, its ledger and control logs in one directory, DSNs from a template. The demo,
// the benchmarks and the tests all run their stations through it, so a change to what a
// station needs is made once.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseControlLog, type ControlLogEntry } from "../controllog/format.ts";
import { dsnTemplate, type DsnSource } from "../device/dsn.ts";
import { runLine, type LineOptions, type LineSummary } from "../device/line.ts";
import { openLedger, type Ledger } from "../ledger/ledger.ts";
import type { DakSigner } from "../sidewalk/signer.ts";

export const DEMO_DEVICE_TYPE = "A17XHX23H06INH";
export const DEMO_APID = "pd25";
/** The application server key of the seed device profile (any Ed25519 point would do). */
export const DEMO_APP_SERVER_KEY = Buffer.from("Qv+5ZIOzMxHWlVv0OQ3gh3/3/PM3t8+JQnsNvDLpa5k=", "base64");

export interface RehearsalOptions extends Partial<LineOptions> {
  ports: string[];
  signer: DakSigner;
  /** Control logs and (unless `ledger` is given) swtool.db go here. */
  dir: string;
  ledger?: Ledger;
  /** Default: the DSN template `dsnTemplate` (default `SN{seq:8}`) from 1, numbers the ledger never repeats. */
  dsnSource?: DsnSource;
  dsnTemplate?: string;
}

export async function runRehearsalStation(o: RehearsalOptions): Promise<{ summary: LineSummary; ledger: Ledger }> {
  const { dir, dsnTemplate: template, ...line } = o;
  const ledger = o.ledger ?? (await openLedger(join(dir, "swtool.db")));
  const summary = await runLine({
    deviceType: DEMO_DEVICE_TYPE,
    apid: DEMO_APID,
    appServerPublicKey: DEMO_APP_SERVER_KEY,
    controlLogDir: dir,
    ...line,
    ledger,
    dsnSource: o.dsnSource ?? dsnTemplate(template ?? "SN{seq:8}", 1, ledger),
  });
  return { summary, ledger };
}

/** Every entry of the control logs a station wrote into `dir`. */
export function controlLogsIn(dir: string): ControlLogEntry[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith("C_CONTROL_LOG_"))
    .flatMap((f) => parseControlLog(readFileSync(join(dir, f), "utf8")));
}
