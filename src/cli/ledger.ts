// swtool ledger: the line's attempts from the SQLite ledger, as text, JSON or CSV.
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { ATTEMPT_RESULTS, DEFAULT_LEDGER_NAME, openLedger, type AttemptRecord, type AttemptResult } from "../ledger/ledger.ts";
import { printResult, println } from "./output.ts";

const COLUMNS: (keyof AttemptRecord)[] = ["id", "startedAt", "finishedAt", "port", "dsn", "smsn", "apid", "stage", "result", "failedStep", "error", "errorCode", "deviceAnswer", "controlLog", "hsmSerial", "dak", "host", "pid"];

function csvField(value: unknown): string {
  const text = value === undefined || value === null ? "" : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** `--since 2024-05-01`, a full ISO time, or a duration back from now (`2h`, `7d`). */
export function parseSince(text: string, now = new Date()): string {
  const m = /^(\d+)\s*([mhd])$/.exec(text.trim());
  if (m) return new Date(now.getTime() - Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "m" | "h" | "d"]).toISOString();
  const t = new Date(text);
  if (Number.isNaN(t.getTime())) throw new UsageError(`--since ${JSON.stringify(text)} is not a date`, { advice: "use e.g. 2024-05-01, 2024-05-01T08:00:00Z, 2h or 7d" });
  return t.toISOString();
}

export default defineCommand({
  meta: { name: "ledger", description: "Show or export the line's provisioning attempts" },
  args: {
    ledger: { type: "string", description: `Ledger file (default ${DEFAULT_LEDGER_NAME})`, default: DEFAULT_LEDGER_NAME },
    since: { type: "string", description: "Only attempts started since (2024-05-01, ISO time, or 2h / 7d ago)" },
    status: { type: "string", description: `Only ${ATTEMPT_RESULTS.join(" | ")}` },
    csv: { type: "boolean", description: "CSV on stdout (for spreadsheets and MES)" },
  },
  run({ args }) {
    if (!existsSync(args.ledger)) throw new UsageError(`no ledger at ${args.ledger}`, { advice: "give --ledger FILE (the line writes swtool.db beside its control logs)" });
    if (args.status && !(ATTEMPT_RESULTS as readonly string[]).includes(args.status)) throw new UsageError(`--status ${args.status}: use ${ATTEMPT_RESULTS.join(", ")}`);
    const ledger = openLedger(args.ledger);
    try {
      const rows = ledger.list({ ...(args.since ? { since: parseSince(args.since) } : {}), ...(args.status ? { status: args.status as AttemptResult } : {}) });
      if (args.csv) {
        println(COLUMNS.join(","));
        for (const r of rows) println(COLUMNS.map((c) => csvField(r[c])).join(","));
        return;
      }
      printResult(rows, () => {
        for (const r of rows) {
          const outcome = r.result === "failed" ? `failed at ${r.failedStep ?? "?"}: ${r.error ?? ""}` : r.result === "provisioned" ? `provisioned → ${r.controlLog ?? ""}` : `in progress (process ${r.pid ?? "?"} on ${r.host ?? "?"}; closed at the station's next start if that process is gone)`;
          println(`${r.startedAt}  ${r.port}  ${r.dsn}  ${r.smsn.slice(0, 16)}…  ${outcome}`);
        }
        println(`${rows.length} attempts`);
      });
    } finally {
      ledger.close();
    }
  },
});
