// swtool demo: the whole job on the built-in simulators (HSM, fixtures), then consolidation
// and verification, with a summary; what `npm run demo` runs.
import { defineCommand } from "citty";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lineReporter } from "./line-view.ts";
import { runDemo } from "../demo/demo.ts";
import { log, output, println } from "./output.ts";
import { wholeNumberArg } from "./args.ts";

export default defineCommand({
  meta: { name: "demo", description: "Run the whole line on built-in simulators: HSM, fixtures, signing, control logs, consolidation" },
  args: {
    devices: { type: "string", description: "Devices to provision", default: "20" },
    fixtures: { type: "string", description: "Simulated fixtures (serial ports)", default: "2" },
    dir: { type: "string", description: "Where control logs, ledger and consolidated log go (default: a new temporary directory)" },
    realistic: { type: "boolean", description: "Real-time device and HSM timings (115200 baud, YubiHSM 2 latency)" },
    noise: { type: "boolean", description: "Log noise and colour codes on the serial lines" },
  },
  async run({ args }) {
    const devices = wholeNumberArg(args.devices, "devices", { min: 1, max: 100_000 })!;
    const fixtures = wholeNumberArg(args.fixtures, "fixtures", { min: 1, max: 16 })!;
    const dir = args.dir ?? mkdtempSync(join(tmpdir(), "swtool-demo-"));
    const reporter = lineReporter(output.json ? "json" : process.stderr.isTTY ? "tty" : "plain", [], { count: devices });
    const result = await runDemo({
      devices, fixtures, dir,
      ...(args.realistic ? { realistic: true, latency: "yubihsm2" as const } : {}),
      ...(args.noise ? { noise: true } : {}),
      onStage: (m) => log.info(m),
      onEvent: (e) => reporter.onEvent(e),
    });
    reporter.finish();
    const c = result.consolidated;
    const summary = { ok: result.ok, dir, line: result.line, consolidated: { output: c.output, devices: c.devices, invalid: c.invalid }, chainsVerified: result.chainsOk, storedOnDevices: result.storedOnDevices };
    // With --json the line's events are one per line, and so is this closing result.
    if (output.json) process.stdout.write(JSON.stringify({ type: "result", ...summary }) + "\n");
    else {
      println();
      println(`provisioned   ${result.line.provisioned} of ${devices} devices on ${fixtures} fixture(s), ${result.line.failed} failed`);
      println(`rate          ${result.line.devicesPerHour.toFixed(0)} devices/hour (${result.line.seconds.toFixed(1)} s)`);
      println(`on devices    ${result.storedOnDevices} stores hold exactly the logged chains`);
      println(`consolidated  ${c.output ?? "(nothing written)"}: ${c.devices} devices, ${c.invalid} invalid`);
      println(`verified      ${result.chainsOk} of ${result.chains.length} chains (test root: rehearsal only, not Amazon's)`);
      println(`files         ${dir}`);
      println(result.ok ? "DEMO OK" : "DEMO FAILED");
    }
    if (!result.ok) process.exitCode = 1;
  },
});
