// `swtool sign --batch devices.csv -o OUTDIR`: many devices over one HSM session pool, one
// output JSON and control log per row; bad rows reported, the rest signed.
import { readBatchFile, runBatch } from "../../sign/batch.ts";
import { readAppKey } from "../../sign/profile.ts";
import { checkSignOptions } from "../../sign/request.ts";
import { log, output, println } from "../output.ts";
import { eventRecord, printEvent } from "../events.ts";
import { deviceHooks, type HookArgValues } from "../hooks.ts";
import { withSigner } from "../signer-args.ts";
import type { BatchMode } from "./mode.ts";
import { checkOutputs } from "./preflight.ts";

export async function signBatch(mode: BatchMode, hookFlags: HookArgValues = {}): Promise<void> {
  const hooks = deviceHooks(hookFlags, "batch");
  const appKey = mode.appKey ? readAppKey(mode.appKey, mode.defaults.apid).key : undefined;
  const rows = readBatchFile(mode.file, mode.defaults);
  checkOutputs({ outDir: mode.outDir, ...(mode.controlLogDir !== undefined ? { controlLogDir: mode.controlLogDir } : {}) });
  await withSigner(mode.signer, async (signer) => {
    const results = await runBatch(rows, {
      signer,
      outDir: mode.outDir,
      failFast: mode.failFast,
      ...(mode.concurrency !== undefined ? { concurrency: mode.concurrency } : {}),
      ...(mode.controlLogDir ? { controlLogDir: mode.controlLogDir } : {}),
      ...(appKey ? { applicationServerPublicKey: appKey } : {}),
      check: (inputs) => checkSignOptions({ ...mode.options, ...inputs }),
      onResult: (r) => {
        const { ok, line, ...rest } = r;
        // The record --json prints is the one the hook gets.
        const record = eventRecord({ type: ok ? "device-done" : "device-failed", row: line, ...rest }, "batch");
        if (output.json) process.stdout.write(JSON.stringify(record) + "\n");
        else if (r.ok) log.success(`line ${r.line} ${r.dsn ?? ""} ${r.smsn} -> ${r.output}${r.controlLog ? `, ${r.controlLog}` : ""}`);
        else log.error(`line ${r.line} ${r.dsn ?? ""}: ${r.error}`);
        hooks.device(record);
      },
    });
    await hooks.settle();
    const failed = results.filter((r) => !r.ok);
    const summary = { rows: rows.length, signed: results.length - failed.length, failed: failed.length, notAttempted: rows.length - results.length };
    if (output.json) printEvent({ type: "summary", ...summary }, "batch");
    else println(`batch: ${summary.signed} signed, ${summary.failed} failed${summary.notAttempted ? `, ${summary.notAttempted} not attempted (--fail-fast)` : ""} of ${summary.rows} rows`);
    if (failed.length || summary.notAttempted) process.exitCode = 1;
  });
}
