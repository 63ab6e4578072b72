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
import { printEvent } from "../events.ts";
import { toHex } from "../../lib/bytes.ts";
import { withSigner } from "../signer-args.ts";
import type { OneMode } from "./mode.ts";
import { checkOutputs } from "./preflight.ts";

export async function signOne(mode: OneMode): Promise<void> {
  checkSignOptions(mode.options);
  const request = deviceRequest(mode.options, mode.stage);
  const appKey = mode.appKey ? readAppKey(mode.appKey).key : undefined;
  // checkSignOptions has refused a control log without an APID; validateApid says so again if not.
  const controlLog = mode.controlLogDir === undefined ? undefined : { dir: mode.controlLogDir, apid: validateApid(request.apid) };
  checkOutputs({ ...(mode.output !== undefined ? { output: mode.output } : {}), ...(mode.controlLogDir !== undefined ? { controlLogDir: mode.controlLogDir } : {}) });
  await withSigner(mode.signer, async (signer) => {
    const result = await signRequest(signer, request, appKey);
    const text = mode.outform === "json" ? formatJson(result) : formatFlat(result);
    const toStdout = mode.output === undefined || mode.output === "-";
    // -o is rewritten per device by line scripts (the reference overwrites too). With --json
    // and no -o, the signing output rides in the one event instead.
    if (!(output.json && toStdout)) writeOutputSync(mode.output ?? "-", text, { replace: true, mode: outputMode(result) });
    const path = controlLog ? await writeControlLog(controlLog.dir, [controlLogEntryFor(result.chains, controlLog.apid, result.stage)]) : undefined;
    if (output.json) {
      printEvent(
        { type: "device-done", smsn: toHex(result.chains.smsn), ...(mode.options.dsn ? { dsn: mode.options.dsn } : {}), ...(toStdout ? { signingOutput: JSON.parse(formatJson(result)) } : { output: mode.output }), ...(path ? { controlLog: path } : {}) },
        "one",
      );
    } else if (path) println(`CONTROL_LOG: ${path}`);
  });
}
