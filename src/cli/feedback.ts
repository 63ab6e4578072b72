// swtool feedback: fetches Amazon's feedback CSVs from the feedback SFTP endpoint (or reads
// local ones with --file), prints each device's status with the error details, and exits
// non-zero when any device was refused.
import { defineCommand } from "citty";
import { findLedger } from "../controllog/ledger-link.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import type { Ledger } from "../ledger/ledger.ts";
import { downloadFeedback, feedbackFiles, readFeedback } from "../upload/feedback.ts";
import { log, printResult, println } from "./output.ts";
import { retryOptions, sshArgs, sshTarget } from "./ssh.ts";

/** Devices in every file the ledger has seen uploaded. */
async function uploadedDevices(ledger: Ledger): Promise<Set<string>> {
  const out = new Set<string>();
  for (const upload of await ledger.uploads()) for (const smsn of await ledger.devicesIn(upload.file)) out.add(smsn);
  return out;
}

const optional = <T extends { required?: boolean }>(arg: T) => ({ ...arg, required: false });

export default defineCommand({
  meta: { name: "feedback", description: "Download and read Amazon's feedback on uploaded control logs" },
  args: {
    ...sshArgs,
    host: optional(sshArgs.host),
    user: optional(sshArgs.user),
    key: optional(sshArgs.key),
    out: { type: "string", description: "Local directory for the feedback CSVs", default: "feedback" },
    file: { type: "string", description: "Read this local feedback CSV (comma-separated list) instead of downloading" },
    ledger: { type: "string", description: "Ledger of uploaded devices to match the feedback to (default: swtool.db here, if there)" },
    ...ledgerPasswordArgs,
  },
  async run({ args }) {
    let files: string[];
    let downloaded: string[] = [];
    if (args.file !== undefined) {
      if (args.host !== undefined) throw new UsageError("--file and --host both given", { advice: "read a local CSV with --file, or download with --host/--user/--key" });
      files = args.file.split(",").filter(Boolean);
    } else {
      if (args.host === undefined || args.user === undefined || args.key === undefined) {
        throw new UsageError("--host, --user and --key are needed to download feedback", { advice: "or read a local CSV with --file" });
      }
      const target = await sshTarget({ ...args, host: args.host, user: args.user, key: args.key });
      const result = await downloadFeedback({ target, remoteDir: args["remote-dir"], outDir: args.out, ...retryOptions(args) });
      downloaded = result.downloaded;
      for (const f of downloaded) log.info(`downloaded ${f}`);
      files = feedbackFiles(args.out);
    }
    if (files.length === 0) throw new SwtoolError("no feedback CSV to read", { advice: "Amazon writes feedback some time after an upload; try again later" });
    const report = readFeedback(files);
    const ledger = await findLedger(args.ledger, ["."], ledgerPasswordOption(args));
    const expected = ledger ? await uploadedDevices(ledger) : undefined;
    const seen = new Set(report.devices.map((d) => d.smsn));
    const dsns = new Map<string, string | undefined>();
    for (const smsn of new Set([...seen, ...(expected ?? [])])) dsns.set(smsn, (await ledger?.isProvisioned({ smsn }))?.dsn);
    await ledger?.close();
    const devices = report.devices.map((d) => ({
      smsn: d.smsn,
      dsn: dsns.get(d.smsn),
      inLedger: expected ? expected.has(d.smsn) : undefined,
      apid: d.latest.apid,
      status: d.latest.status,
      accepted: d.latest.accepted,
      errorDetails: d.latest.errorDetails || undefined,
      recordId: d.latest.recordId || undefined,
      source: `${d.latest.source}:${d.latest.row}`,
    }));
    const missing = expected ? [...expected].filter((smsn) => !seen.has(smsn)).map((smsn) => ({ smsn, dsn: dsns.get(smsn) })) : [];
    const ok = report.failed.length === 0 && missing.length === 0;
    const result = { ok, files, downloaded, devices: devices.length, accepted: report.accepted, failed: report.failed.length, missing: expected ? missing : undefined, results: devices };
    printResult(result, () => {
      for (const d of devices) println(`${d.smsn}${d.dsn ? ` ${d.dsn}` : ""} ${d.accepted ? "OK" : "FAILED"} ${d.status}${d.errorDetails ? `: ${d.errorDetails}` : ""}`);
      for (const m of missing) println(`${m.smsn}${m.dsn ? ` ${m.dsn}` : ""} MISSING uploaded, no feedback yet`);
      const unknown = expected ? devices.filter((d) => !d.inLedger).length : 0;
      if (unknown) log.warn(`${unknown} devices in the feedback are not in the ledger's uploads`);
      log.info(`${files.length} feedback files, ${devices.length} devices: ${report.accepted} accepted, ${report.failed.length} failed${expected ? `, ${missing.length} uploaded but missing` : ""}`);
    });
    if (!ok) process.exitCode = 1;
  },
});
