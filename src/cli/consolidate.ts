// swtool consolidate PATH... [-o FILE]: one control log for Amazon from many per-device logs,
// every entry validated; prints the output path last, as the reference consolidate_cl.py does.
import { defineCommand } from "citty";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import { consolidate, type Problem } from "../controllog/consolidate.ts";
import { ConsolidationRecord, findLedger } from "../controllog/ledger-link.ts";
import { baseName, type Ledger } from "../ledger/ledger.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { outputTarget } from "../lib/atomic.ts";
import { log, output, printResult, println } from "./output.ts";

function describe(p: Problem): string {
  const where = p.index === undefined ? p.path : `${p.path} [entry ${p.index}]`;
  switch (p.kind) {
    case "invalid":
      return `invalid: ${where}: ${p.reason}`;
    case "duplicate":
      return `duplicate: ${where}: SMSN ${p.smsn} is also in ${p.firstPath} (identical; merged)`;
    case "conflict":
      return `conflict: SMSN ${p.smsn} has different entries in ${p.firstPath} and ${p.path}`;
    case "empty":
      return `no control logs in ${p.path}`;
  }
}

export default defineCommand({
  meta: { name: "consolidate", description: "Validate and merge per-device control logs into one file for Amazon" },
  args: {
    paths: { type: "positional", description: "Directories (searched for C_CONTROL_LOG_*.txt), files or glob patterns", required: true },
    output: { type: "string", alias: "o", description: "Output file (default: C_CONTROL_LOG_<time>.txt in the current directory); never overwritten" },
    "skip-invalid": { type: "boolean", description: "Write the valid entries even if some are invalid, and list the skipped" },
    ledger: { type: "string", description: "Ledger recording which consolidated file holds each device (default: swtool.db beside the logs, if there)" },
    "new-only": { type: "boolean", description: "Only logs the ledger has not seen consolidated before" },
    ...ledgerPasswordArgs,
  },
  async run({ args }) {
    const paths = (args._ as string[]).length ? (args._ as string[]) : [args.paths];
    const ledger = await findLedger(args.ledger, paths, ledgerPasswordOption(args));
    if (args["new-only"] && !ledger) {
      throw new UsageError("--new-only needs the ledger", { advice: "name it with --ledger FILE (the line keeps swtool.db in its control log directory)" });
    }
    const record = ledger ? new ConsolidationRecord() : undefined;
    try {
      await runConsolidate(args, paths, ledger, record);
    } finally {
      record?.dispose();
      await ledger?.close();
    }
  },
});

async function runConsolidate(
  args: { output?: string; "skip-invalid"?: boolean; "new-only"?: boolean },
  paths: string[],
  ledger: Ledger | undefined,
  record: ConsolidationRecord | undefined,
): Promise<void> {
  let marked = 0;
  // Only a file can be named in the ledger; a device or stdout leaves the logs unmarked, so the
  // next --new-only takes them again (a duplicate at Amazon, never a device in no file).
  const toFile = args.output === undefined || outputTarget(args.output).kind === "file";
  if (ledger && !toFile) log.warn(`${args.output} is not a file: the ledger ${ledger.path} does not record these devices as consolidated`);
  // Device logs already consolidated, by SMSN and file name (one query, then lookups in memory).
  const consolidated = args["new-only"] && ledger ? await ledger.consolidatedLogKeys() : undefined;
  const summary = await consolidate({
    paths,
    output: args.output,
    skipInvalid: args["skip-invalid"],
    include: consolidated ? (entry, path) => !consolidated.has(`${entry.serialNumber.toLowerCase()}\t${baseName(path)}`) : undefined,
    written: record,
    // Published inside the ledger's transaction: a locked ledger leaves no file, a failed commit removes it.
    ...(ledger && record && toFile ? { within: async (publish: () => Promise<string>) => void (marked = await record.publishAndMark(ledger, publish)) } : {}),
    onFile: (path) => log.debug(`Processing ${path}`),
    onProblem: (p) => (p.kind === "duplicate" || p.kind === "empty" ? log.warn(describe(p)) : log.error(describe(p))),
  });
  if (summary.output && ledger && toFile) log.info(`ledger ${ledger.path}: ${marked} devices recorded as in ${summary.output}`);
  if (summary.excluded) log.info(`${summary.excluded} entries left out: already consolidated (ledger)`);
  const bad = summary.invalid + summary.conflicts;
  // --new-only with nothing new is a normal evening, not an error.
  const nothingNew = summary.output === undefined && bad === 0 && summary.excluded > 0 && summary.devices === 0;
  const ok = summary.output !== undefined || nothingNew;
  printResult({ ok, ...summary }, () => {
    log.info(
      `read ${summary.files} files, ${summary.entries} entries: ${summary.devices} devices, ${summary.duplicates} duplicates merged, ` +
        `${summary.invalid} invalid, ${summary.conflicts} conflicts`,
    );
    for (const [apid, n] of Object.entries(summary.perApid)) log.info(`  APID ${apid}: ${n} devices`);
    for (const [label, n] of Object.entries(summary.perLabel)) log.info(`  label ${label}: ${n} devices`);
    if (ok && bad) log.warn(`skipped ${bad} invalid or conflicting entries (listed above)`);
    if (nothingNew) log.warn("nothing new to consolidate; no file written");
    else if (ok && summary.output !== "-") println(summary.output);
  });
  if (ok) return;
  const reason =
    bad > 0
      ? new SwtoolError(`nothing written: ${summary.invalid} invalid entries or files and ${summary.conflicts} conflicting SMSNs`, {
          advice: "fix or remove the files listed above, or use --skip-invalid to write the valid entries only",
        })
      : new UsageError(summary.files === 0 ? "no control logs found" : "no valid control log entries found", { advice: "give directories of C_CONTROL_LOG_*.txt files, files or glob patterns" });
  if (!output.json) throw reason;
  process.exitCode = reason.exitCode;
}
