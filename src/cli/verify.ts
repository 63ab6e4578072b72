// swtool verify: checks every signature of a chain, a signing output or a control log and
// whether each chain ends at Amazon's production root. Exit 0 only when everything verifies.
import { defineCommand } from "citty";
import { UsageError } from "../lib/errors.ts";
import { CURVES } from "../sidewalk/index.ts";
import { inspectInput } from "../verify/inspect.ts";
import { printResult, println } from "./output.ts";

export default defineCommand({
  meta: { name: "verify", description: "Verify a base64 chain, a signing-output JSON or a control log" },
  args: {
    input: { type: "positional", description: "Base64 chain, or path to a signing-output JSON or control log", required: true },
    "expect-root": { type: "string", description: "amazon: also fail a chain that does not end at Amazon's production root" },
  },
  run({ args }) {
    const expect = args["expect-root"];
    if (expect !== undefined && expect !== "amazon" && expect !== "any") {
      throw new UsageError(`--expect-root ${JSON.stringify(expect)} is not known`, { advice: "use --expect-root amazon" });
    }
    const chains = inspectInput(args.input);
    const failed = chains.filter((c) => c.error || !c.report?.ok || (expect === "amazon" && !c.report.amazonRoot));
    printResult({ ok: failed.length === 0, chains }, () => {
      for (const c of chains) {
        const r = c.report;
        println(`${c.source}${r ? `: ${CURVES[r.curve].display} ${r.kind === "legacy" ? "legacy 4-certificate" : "6-certificate"} chain` : ""}`);
        for (const cert of r?.certs ?? []) {
          println(`  [${cert.index}] ${cert.role.padEnd(12)} serial ${cert.serial.padEnd(64)} signature ${cert.signatureOk ? "ok" : "FAILED"}`);
          println(`      public key ${cert.publicKey}`);
        }
        if (r) {
          println(r.ok ? "  all signatures verify" : `  FAILED: certificate ${r.firstFailure!.index} (${r.firstFailure!.role}) does not verify`);
          println(r.amazonRoot ? "  root: Amazon Sidewalk production root" : "  root: NOT Amazon's production root (test or pre-production chain)");
        }
        if (c.error) println(`  ERROR: ${c.error}`);
      }
      println(failed.length === 0 ? "OK" : `FAILED: ${failed.length} of ${chains.length} chains`);
    });
    if (failed.length) process.exitCode = 1;
  },
});
