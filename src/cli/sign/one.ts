// `swtool sign` for one device, as Amazon's sid_signing_tool: both CSRs (or legacy key files),
// the reference's refusals, the signing output on stdout or in -o, and a control log.
import { controlLogEntryFor, writeControlLog } from "../../controllog/writer.ts";
import { formatFlat, formatJson, outputMode } from "../../formats/signing-output.ts";
import { writeOutputSync } from "../../lib/atomic.ts";
import { readAppKey } from "../../sign/profile.ts";
import { checkSignOptions, deviceRequest } from "../../sign/request.ts";
import { signRequest } from "../../sign/sign.ts";
import { validateApid } from "../../sidewalk/smsn.ts";
import { output, println } from "../output.ts";
import { eventRecord } from "../events.ts";
import { deviceHooks, type HookArgValues } from "../hooks.ts";
import { toHex } from "../../lib/bytes.ts";
import { withSigner } from "../signer-args.ts";
import type { OneMode } from "./mode.ts";
import { checkOutputs } from "./preflight.ts";

export async function signOne(mode: OneMode, hookFlags: HookArgValues = {}): Promise<void> {
  const appKey = mode.appKey ? readAppKey(mode.appKey, mode.options.apid).key : undefined;
  const request = deviceRequest(checkSignOptions(mode.options), mode.stage);
  // checkSignOptions has refused a control log without an APID; validateApid says so again if not.
  const controlLog = mode.controlLogDir === undefined ? undefined : { dir: mode.controlLogDir, apid: validateApid(request.apid) };
  checkOutputs({ ...(mode.output !== undefined ? { output: mode.output } : {}), ...(mode.controlLogDir !== undefined ? { controlLogDir: mode.controlLogDir } : {}) });
  const hooks = deviceHooks(hookFlags, "one");
  const dsn = mode.options.dsn ? { dsn: mode.options.dsn } : {};
  await withSigner(mode.signer, async (signer) => {
    let record: Record<string, unknown>;
    try {
      const result = await signRequest(signer, request, appKey);
      const text = mode.outform === "json" ? formatJson(result) : formatFlat(result);
      const toStdout = mode.output === undefined || mode.output === "-";
      // -o is rewritten per device by line scripts (the reference overwrites too). With --json
      // and no -o, the signing output rides in the one event instead.
      if (!(output.json && toStdout)) writeOutputSync(mode.output ?? "-", text, { replace: true, mode: outputMode(result) });
      const path = controlLog ? await writeControlLog(controlLog.dir, [controlLogEntryFor(result.chains, controlLog.apid, result.stage)]) : undefined;
      record = eventRecord(
        { type: "device-done", smsn: toHex(result.chains.smsn), ...dsn, ...(toStdout ? { signingOutput: JSON.parse(formatJson(result)) } : { output: mode.output }), ...(path ? { controlLog: path } : {}) },
        "one",
      );
      if (output.json) process.stdout.write(JSON.stringify(record) + "\n");
      else if (path) println(`CONTROL_LOG: ${path}`);
    } catch (e) {
      // The error itself is reported as ever (stderr, exit code); --json and the hook hear of it first.
      const failed = eventRecord({ type: "device-failed", smsn: toHex(request.expectedSmsn ?? request.csrs.ed25519.smsn), ...dsn, error: (e as Error).message }, "one");
      if (output.json) process.stdout.write(JSON.stringify(failed) + "\n");
      hooks.device(failed);
      await hooks.settle();
      throw e;
    }
    hooks.device(record);
    await hooks.settle();
  });
}
