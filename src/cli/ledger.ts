// swtool ledger: the line's attempts from the ledger (SQLite file or PostgreSQL), as text,
// JSON or CSV; `swtool ledger migrate` brings a ledger's schema to this swtool's version;
// `swtool ledger import --from swtool.db --ledger postgres://...` carries a line PC's ledger
// into the factory one (idempotent; a device held differently refuses it, naming both).
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { ATTEMPT_RESULTS, DEFAULT_LEDGER_NAME, openLedger, type AttemptRecord, type AttemptResult } from "../ledger/ledger.ts";
import { looksLikeUrl } from "../ledger/location.ts";
import { retryingLedger } from "../ledger/retry.ts";
import { importLedger } from "../ledger/import.ts";
import { writeLog } from "./ledger-write-log.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { checkOutputPath, writeOutputSync } from "../lib/atomic.ts";
import { log, printResult, println } from "./output.ts";

const COLUMNS: (keyof AttemptRecord)[] = ["id", "startedAt", "finishedAt", "port", "dsn", "smsn", "apid", "stage", "result", "failedStep", "error", "errorCode", "deviceAnswer", "controlLog", "hsmSerial", "dak", "host", "pid", "pidStart", "station", "operator", "workOrder"];

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

const ledgerArg = {
  ledger: { type: "string", description: `Ledger file or postgres://user@host:port/db (default ${DEFAULT_LEDGER_NAME})`, default: DEFAULT_LEDGER_NAME },
  ...ledgerPasswordArgs,
} as const;

function checkExists(ledger: string, flag = "--ledger"): void {
  if (!looksLikeUrl(ledger) && !existsSync(ledger)) throw new UsageError(`no ledger at ${ledger}`, { advice: `give ${flag} FILE (the line writes swtool.db beside its control logs)${flag === "--ledger" ? " or --ledger postgres://..." : ""}` });
}

const migrate = defineCommand({
  meta: { name: "migrate", description: "Bring the ledger's schema to this swtool's version (SQLite upgraded in place; PostgreSQL created on first use)" },
  args: ledgerArg,
  async run({ args }) {
    checkExists(args.ledger);
    const ledger = await openLedger(args.ledger, ledgerPasswordOption(args));
    try {
      const v = await ledger.schemaVersion();
      printResult({ ok: true, ledger: ledger.path, engine: ledger.engine, from: v.before ?? v.database, to: v.database }, () =>
        println(v.before === v.database ? `ledger ${ledger.path}: schema version ${v.database}, up to date` : `ledger ${ledger.path}: schema version ${v.before ?? 0} -> ${v.database}`),
      );
    } finally {
      await ledger.close();
    }
  },
});

const importCommand = defineCommand({
  meta: { name: "import", description: "Carry a line PC's ledger into this one (attempts, DSN counters, DAK signature counts, control logs); importing it again changes nothing" },
  args: {
    from: { type: "string", description: "The ledger to import (a line PC's swtool.db)", required: true },
    ledger: { type: "string", description: "The ledger to import into (postgres://user@host:port/db, or a file)", required: true },
    ...ledgerPasswordArgs,
  },
  async run({ args }) {
    if (looksLikeUrl(args.from)) throw new UsageError(`--from ${args.from}: give the line PC's ledger file (swtool.db)`);
    checkExists(args.from, "--from");
    const source = await openLedger(args.from);
    try {
      const target = await openLedger(args.ledger, ledgerPasswordOption(args));
      try {
        const s = await importLedger(source, target);
        printResult({ ok: true, from: source.path, ledger: target.path, ...s }, () =>
          println(
            `imported ${source.path} into ${target.path}: ${s.attempts} attempts (${s.alreadyImported} already imported), ${s.countersRaised} DSN counters raised, ` +
              `${s.signaturesAdded} DAK signatures added, ${s.controlLogs} control logs`,
          ),
        );
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
});

export default defineCommand({
  meta: { name: "ledger", description: "Show or export the line's provisioning attempts; `ledger migrate` upgrades its schema; `ledger import` merges a line PC's ledger into the factory one" },
  subCommands: { migrate, import: importCommand, "write-log": writeLog },
  args: {
    ...ledgerArg,
    since: { type: "string", description: "Only attempts started since (2024-05-01, ISO time, or 2h / 7d ago)" },
    status: { type: "string", description: `Only ${ATTEMPT_RESULTS.join(" | ")}` },
    csv: { type: "boolean", description: "CSV on stdout (for spreadsheets and MES)" },
    output: { type: "string", alias: "o", description: "With --csv: write the CSV to this file instead (complete or absent, never over an existing file)" },
  },
  async run({ args }) {
    checkExists(args.ledger);
    if (args.status && !(ATTEMPT_RESULTS as readonly string[]).includes(args.status)) throw new UsageError(`--status ${args.status}: use ${ATTEMPT_RESULTS.join(", ")}`);
    if (args.output !== undefined && !args.csv) throw new UsageError("-o writes the CSV export", { advice: "add --csv" });
    if (args.output !== undefined) checkOutputPath(args.output);
    const ledger = retryingLedger(await openLedger(args.ledger, ledgerPasswordOption(args)), { giveUpAfterMs: 30_000 });
    try {
      const rows = await ledger.list({ ...(args.since ? { since: parseSince(args.since) } : {}), ...(args.status ? { status: args.status as AttemptResult } : {}) });
      if (args.csv) {
        const lines = [COLUMNS.join(","), ...rows.map((r) => COLUMNS.map((c) => csvField(r[c])).join(","))];
        if (args.output === undefined) lines.forEach((line) => println(line));
        else log.info(`${rows.length} attempts written to ${writeOutputSync(args.output, lines.join("\n") + "\n")}`);
        return;
      }
      printResult(rows, () => {
        for (const r of rows) {
          const outcome = r.result === "failed" ? `failed at ${r.failedStep ?? "?"}: ${r.error ?? ""}` : r.result === "provisioned" ? `provisioned → ${r.controlLog ?? ""}` : `in progress (process ${r.pid ?? "?"} on ${r.station ?? r.host ?? "?"}; closed at the station's next start if that process is gone)`;
          println(`${r.startedAt}  ${r.port}  ${r.dsn}  ${r.smsn.slice(0, 16)}…  ${outcome}`);
        }
        println(`${rows.length} attempts`);
      });
    } finally {
      await ledger.close();
    }
  },
});
