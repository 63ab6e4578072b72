// `swtool sign` for one device, as Amazon's sid_signing_tool: both CSRs (or legacy key files),
// the reference's refusals, the signing output on stdout or in -o, and a control log.
import { controlLogEntryFor, writeControlLog } from "../../controllog/writer.ts";
import { formatFlat, formatJson, outputMode } from "../../formats/signing-output.ts";
import { writeOutputSync } from "../../lib/atomic.ts";
import { readAppKey } from "../../sign/profile.ts";
import { checkSignOptions, deviceRequest } from "../../sign/request.ts";
import { signRequest } from "../../sign/sign.ts";
import { println } from "../output.ts";
import { withSigner } from "../signer-args.ts";
import type { OneMode } from "./mode.ts";
import { checkOutputs } from "./preflight.ts";

export async function signOne(mode: OneMode): Promise<void> {
  checkSignOptions(mode.options);
  const request = deviceRequest(mode.options, mode.stage);
  const appKey = mode.appKey ? readAppKey(mode.appKey).key : undefined;
  checkOutputs({ ...(mode.output !== undefined ? { output: mode.output } : {}), ...(mode.controlLogDir !== undefined ? { controlLogDir: mode.controlLogDir } : {}) });
  await withSigner(mode.signer, async (signer) => {
    const result = await signRequest(signer, request, appKey);
    const text = mode.outform === "json" ? formatJson(result) : formatFlat(result);
    // -o is rewritten per device by line scripts (the reference overwrites too).
    writeOutputSync(mode.output ?? "-", text, { replace: true, mode: outputMode(result) });
    if (mode.controlLogDir) {
      // checkSignOptions refuses a control log without an APID.
      const path = await writeControlLog(mode.controlLogDir, [controlLogEntryFor(result.chains, request.apid!, result.stage)]);
      println(`CONTROL_LOG: ${path}`);
    }
  });
}
