// swtool import-csv [--from LEDGER|CONTROL_LOGS] -o devices.csv: the SMSN list AWS IoT Core for
// Amazon Sidewalk's bulk import task (StartWirelessDeviceImportTask) reads from S3.
import { defineCommand } from "citty";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import { smsnsFromControlLogs, writeImportCsv, type SmsnSource } from "../controllog/import-csv.ts";
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_LEDGER_NAME, openLedger } from "../ledger/ledger.ts";
import { looksLikeUrl } from "../ledger/location.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { log, printResult, println } from "./output.ts";

/** SQLite database files start with this header (sqlite.org/fileformat.html). */
const SQLITE_MAGIC = "SQLite format 3\0";

function isSqlite(path: string): boolean {
  if (!existsSync(path) || !statSync(path).isFile()) return false;
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.toString("latin1") === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

async function* fromLedger(path: string, options: { passwordFile?: string }): AsyncGenerator<SmsnSource> {
  const ledger = await openLedger(path, options);
  try {
    for (const attempt of await ledger.list({ status: "provisioned" })) yield { smsn: attempt.smsn, from: `${ledger.path} (attempt ${attempt.id})` };
  } finally {
    await ledger.close();
  }
}

export default defineCommand({
  meta: { name: "import-csv", description: "Write the SMSN CSV for AWS IoT's Sidewalk bulk import task" },
  args: {
    from: { type: "string", description: `A ledger (default ./${DEFAULT_LEDGER_NAME}: its provisioned devices) or control logs: directories, files or globs, comma-separated` },
    output: { type: "string", alias: "o", description: "The CSV to write (never overwritten)", required: true },
    ...ledgerPasswordArgs,
  },
  async run({ args }) {
    const from = args.from ?? (existsSync(DEFAULT_LEDGER_NAME) ? DEFAULT_LEDGER_NAME : undefined);
    if (from === undefined) throw new UsageError(`no --from given and no ${DEFAULT_LEDGER_NAME} here`, { advice: "give --from with the ledger or the control log directory" });
    const paths = from.split(",").filter(Boolean);
    const ledger = paths.length === 1 && (looksLikeUrl(paths[0]!) || isSqlite(paths[0]!));
    const result = await writeImportCsv(ledger ? fromLedger(paths[0]!, ledgerPasswordOption(args)) : smsnsFromControlLogs(paths), args.output);
    printResult({ ok: true, source: ledger ? "ledger" : "control logs", ...result }, () => {
      log.info(`${result.devices} devices${result.duplicates ? ` (${result.duplicates} repeated SMSNs written once)` : ""} from ${ledger ? "the ledger" : "control logs"}`);
      if (result.path !== "-") println(result.path);
    });
  },
});
