// `swtool ledger write-log --dsn SN [--control_log_dir D]`: the control log of a board that
// stored its identity while its log could not be written (a full disk stopped the line),
// published from the entry the ledger kept; no new DAK signature, the board keeps its identity.
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { DEFAULT_LEDGER_NAME, openLedger } from "../ledger/ledger.ts";
import { looksLikeUrl } from "../ledger/location.ts";
import { retryingLedger } from "../ledger/retry.ts";
import { writeLogFromLedger } from "../device/recover.ts";
import { validateDsn } from "../sidewalk/smsn.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { printResult, println } from "./output.ts";

export const writeLog = defineCommand({
  meta: { name: "write-log", description: "Write the control log of a board that stored its identity without one (the line's folder was full), from the entry the ledger kept; no new signature" },
  args: {
    dsn: { type: "string", description: "The board's DSN", required: true },
    ledger: { type: "string", description: `Ledger file or postgres://user@host:port/db (default ${DEFAULT_LEDGER_NAME})`, default: DEFAULT_LEDGER_NAME },
    ...ledgerPasswordArgs,
    control_log_dir: { type: "string", description: "Write the control log into this directory (default: the current one)", default: "." },
  },
  async run({ args }) {
    const dsn = validateDsn(args.dsn);
    if (!looksLikeUrl(args.ledger) && !existsSync(args.ledger)) throw new UsageError(`no ledger at ${args.ledger}`, { advice: "give --ledger FILE (the line writes swtool.db beside its control logs) or --ledger postgres://..." });
    const ledger = retryingLedger(await openLedger(args.ledger, ledgerPasswordOption(args)), { giveUpAfterMs: 30_000 });
    try {
      const w = await writeLogFromLedger(ledger, dsn, args.control_log_dir);
      printResult({ ok: true, dsn, smsn: w.smsn, controlLog: w.controlLog, attempt: w.attempt, from: w.from.id }, () =>
        println(`control log ${w.controlLog} written for DSN ${dsn} (SMSN ${w.smsn}) from the ledger's entry of attempt ${w.from.id}; the ledger records the board provisioned (attempt ${w.attempt})`),
      );
    } finally {
      await ledger.close();
    }
  },
});
