// swtool device: the device simulator (`simulate`) and a fixture check (`probe`).
import { defineCommand } from "citty";
import { appendFileSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { openDeviceLink } from "../transport/open.ts";
import { CertClient } from "../device/protocol/client.ts";
import { parseListen, startDeviceSimulator } from "../device/simulator/host.ts";
import { BANNER_STYLES, FAULT_KINDS, type BannerStyle, type FaultKind } from "../device/simulator/shell.ts";
import { commandTimeoutOf, lineArgs, serialSettingsFrom } from "./line-args.ts";
import { decimalArg, wholeNumberArg } from "./args.ts";
import { emitEvent, log, output, printResult, println } from "./output.ts";

function parseFaults(text: string | undefined): FaultKind[] {
  if (!text) return [];
  const faults = text.split(",").map((f) => f.trim()).filter(Boolean);
  for (const f of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(f)) throw new UsageError(`unknown fault ${JSON.stringify(f)}`, { advice: `use a comma-separated list of ${FAULT_KINDS.join(", ")}` });
  }
  return faults as FaultKind[];
}

const simulate = defineCommand({
  meta: { name: "simulate", description: "Simulated devices running the Factory Diagnostic Firmware, on pseudo-terminals or TCP" },
  args: {
    pty: { type: "boolean", description: "Serve each fixture on a pseudo-terminal (default); prints its path" },
    listen: { type: "string", description: "Serve on TCP instead, HOST:PORT (fixture i on PORT+i-1; port 0: any free port)" },
    fixtures: { type: "string", description: "Number of fixtures (default 1)" },
    count: { type: "string", description: "Devices each fixture presents, one after another (default: no limit)" },
    realistic: { type: "boolean", description: "115200-baud pacing and the chip's per-command latency" },
    noise: { type: "boolean", description: "Unrelated log lines and colour codes between answers" },
    faults: { type: "string", description: "Comma-separated faults: drop, garble, reset, silence" },
    "fault-rate": { type: "string", description: "Probability of a fault per received line (default 0.05)" },
    "silence-ms": { type: "string", description: "How long a `silence` fault lasts (default 2000)" },
    "swap-ms": { type: "string", description: "Time to put in the next device after `cert deinit` (default 0, 500 with --realistic)" },
    style: { type: "string", description: "nrf5 (log prefixes, '--> ' prompt; default) or zephyr ('uart:~$ ', colours)", default: "nrf5" },
    banner: { type: "string", description: `What each board prints at boot: ${BANNER_STYLES.join(", ")} (default: the style's own banner line)` },
    "linger-ms": { type: "string", description: "How long a finished board stays in the fixture, answering, before it is taken out (default 0)" },
    reenumerate: { type: "boolean", description: "Pty fixtures: the port path vanishes while the fixture is empty and comes back (a USB UART on the board)" },
    "noise-rate": { type: "string", description: "With --noise: probability of a noise line before each answer line (default 0.15)" },
    "error-at": { type: "string", description: "Answer every command starting with COMMAND with {CERT ERROR CODE} on every board (firmware that fails a step, a whole tray): 'COMMAND=CODE', e.g. 'cert smsn=-11'" },
    record: { type: "string", description: "Append each stored device (SMSN, keys, chain serials) as a JSON line to this file" },
  },
  async run({ args }) {
    if (args.pty && args.listen) throw new UsageError("give --pty or --listen, not both");
    if (args.style !== "nrf5" && args.style !== "zephyr") throw new UsageError(`--style ${args.style}: use nrf5 or zephyr`);
    const listen = args.listen ? parseListen(args.listen) : undefined;
    const faults = parseFaults(args.faults);
    const faultRate = decimalArg(args["fault-rate"], "fault-rate", { min: 0, max: 1 });
    const silenceMs = wholeNumberArg(args["silence-ms"], "silence-ms", { min: 0 });
    const swapMs = wholeNumberArg(args["swap-ms"], "swap-ms", { min: 0 });
    const count = wholeNumberArg(args.count, "count", { min: 1 });
    if (args.banner !== undefined && !(BANNER_STYLES as readonly string[]).includes(args.banner)) throw new UsageError(`--banner ${args.banner}: use ${BANNER_STYLES.join(", ")}`);
    if (args.reenumerate && listen) throw new UsageError("--reenumerate is for pty fixtures (a TCP serial server does not vanish)");
    const lingerMs = wholeNumberArg(args["linger-ms"], "linger-ms", { min: 0 });
    const noiseRate = decimalArg(args["noise-rate"], "noise-rate", { min: 0, max: 1 });
    const errorAt = args["error-at"] === undefined ? undefined : /^(cert [^=]+)=(-\d+)$/.exec(args["error-at"]);
    if (args["error-at"] !== undefined && !errorAt) throw new UsageError(`--error-at ${JSON.stringify(args["error-at"])}: use COMMAND=CODE, e.g. 'cert smsn=-11'`);
    const sim = await startDeviceSimulator({
      transport: listen ? "tcp" : "pty",
      ...(listen ? { host: listen.host, port: listen.port } : {}),
      fixtures: wholeNumberArg(args.fixtures, "fixtures", { min: 1, max: 256 }) ?? 1,
      ...(count !== undefined ? { count } : {}),
      realistic: args.realistic ?? false,
      noise: args.noise ?? false,
      faults,
      ...(faultRate !== undefined ? { faultRate } : {}),
      ...(silenceMs !== undefined ? { silenceMs } : {}),
      ...(swapMs !== undefined ? { swapMs } : {}),
      style: args.style,
      ...(args.banner !== undefined ? { banner: args.banner as BannerStyle } : {}),
      ...(lingerMs !== undefined ? { lingerMs } : {}),
      ...(noiseRate !== undefined ? { noiseRate } : {}),
      ...(args.reenumerate ? { reenumerate: true } : {}),
      ...(errorAt ? { errorAt: { command: errorAt[1]!, code: Number(errorAt[2]) } } : {}),
      onStored: (record) => {
        if (args.record) appendFileSync(args.record, JSON.stringify(record) + "\n");
        if (output.json) emitEvent({ type: "stored", fixture: record.fixture, device: record.device, smsn: record.stored?.smsn });
        else log.info(`fixture ${record.fixture}: device ${record.device} stored SMSN ${record.stored?.smsn}`);
      },
    });
    if (output.json) emitEvent({ type: "ready", ports: sim.ports });
    else for (const p of sim.ports) println(p);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    process.once("SIGINT", () => stop());
    process.once("SIGTERM", () => stop());
    await Promise.race([sim.done, stopped]);
    await Promise.all(sim.fixtures.map((f) => f.flushed()));
    const devices = sim.devices();
    await sim.close();
    const summary = { devices: devices.length, stored: devices.filter((d) => d.stored).length, faults: devices.reduce((n, d) => n + d.faults.length, 0) };
    if (output.json) emitEvent({ type: "summary", ...summary });
    else log.info(`${summary.devices} devices presented, ${summary.stored} stored, ${summary.faults} faults injected`);
  },
});

const probe = defineCommand({
  meta: { name: "probe", description: "Check that a fixture answers: open the port, `cert init`, show the MTU" },
  args: {
    port: { ...lineArgs.port, required: true },
    baud: lineArgs.baud,
    "data-bits": lineArgs["data-bits"],
    parity: lineArgs.parity,
    "stop-bits": lineArgs["stop-bits"],
    rtscts: lineArgs.rtscts,
    xonxoff: lineArgs.xonxoff,
    "command-timeout": lineArgs["command-timeout"],
  },
  async run({ args }) {
    const timeoutMs = commandTimeoutOf(args);
    const link = await openDeviceLink(args.port, serialSettingsFrom(args));
    const client = new CertClient(link, timeoutMs === undefined ? {} : { timeoutMs });
    try {
      await client.resync();
      const answer = await client.command("cert init");
      printResult({ port: args.port, ok: true, base64Mtu: client.mtu, lines: answer.lines }, () => println(`${args.port}: Factory Diagnostic Firmware answers; BASE64_MTU=${client.mtu}`));
    } finally {
      await link.close();
    }
  },
});

export default defineCommand({
  meta: { name: "device", description: "Simulated devices and fixture checks" },
  subCommands: { simulate, probe },
});
