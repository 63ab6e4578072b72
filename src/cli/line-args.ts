// The production-line arguments of `swtool sign --port ...` and the glue from parsed
// arguments to runLine(): DSN source, ledger, serial settings, Ctrl-C handling, live status.
// Usage in a command:  `...lineArgs` in args, then in run({ args, rawArgs }):
//   const ports = repeatedArg(rawArgs, "port");
//   if (ports.length) return runLineCommand(args, ports, { signer, deviceType, apid, ... });
import type { ArgsDef } from "citty";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { dsnFile, dsnTemplate, fixedDsn, type DsnSource } from "../device/dsn.ts";
import { runLine, type LineSummary } from "../device/line.ts";
import type { SerialSettings } from "../transport/open.ts";
import { lineReporter } from "../device/status.ts";
import { DEFAULT_LEDGER_NAME, openLedger } from "../ledger/ledger.ts";
import type { DakSigner } from "../sidewalk/signer.ts";
import { ledgerPasswordArgs, stationArgs, stationOptions } from "./ledger-args.ts";
import { log, output, printResult, println } from "./output.ts";
import { wholeNumberArg } from "./args.ts";

/** How a fixture's serial port is driven (also `swtool device probe`). */
export const serialArgs = {
  baud: { type: "string", description: "Serial baud rate (default 115200)" },
  "data-bits": { type: "string", description: "5, 6, 7 or 8 (default 8)" },
  parity: { type: "string", description: "none, even, odd, mark or space (default none)" },
  "stop-bits": { type: "string", description: "1, 1.5 or 2 (default 1)" },
  rtscts: { type: "boolean", description: "RTS/CTS hardware flow control" },
  xonxoff: { type: "boolean", description: "XON/XOFF software flow control" },
  "command-timeout": { type: "string", description: "Milliseconds to wait for each device answer (default 3000)" },
} as const satisfies ArgsDef;

/** The production line's flags, `sign --port ...`: the one place they are defined. */
export const lineArgs = {
  port: { type: "string", description: "Fixture port: /dev/ttyUSB0, COM3 or socket://host:port (repeat for more fixtures)" },
  count: { type: "string", description: "Stop after this many good devices (default: run until Ctrl-C)" },
  "dsn-file": { type: "string", description: "File of DSNs, one per line, used in order" },
  "dsn-template": { type: "string", description: "DSN template with a counter, e.g. 'SN{seq:7}'" },
  "dsn-start": { type: "string", description: "First number for --dsn-template (default 1; the ledger never repeats one)" },
  ledger: { type: "string", description: "Ledger: a file (default swtool.db in the control log directory) or postgres://user@host:port/db shared by the factory" },
  ...ledgerPasswordArgs,
  ...stationArgs,
  "allow-reprovision": { type: "boolean", description: "Provision a DSN or SMSN the ledger has seen provisioned" },
  ...serialArgs,
} as const satisfies ArgsDef;

/** Every value of a flag given more than once (citty keeps only the last). */
export function repeatedArg(rawArgs: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const token = rawArgs[i]!;
    if (token === "--") break;
    if (token === `--${name}` && i + 1 < rawArgs.length) values.push(rawArgs[++i]!);
    else if (token.startsWith(`--${name}=`)) values.push(token.slice(name.length + 3));
  }
  return values;
}

export type LineArgValues = { [K in keyof typeof lineArgs]?: (typeof lineArgs)[K]["type"] extends "boolean" ? boolean : string };

export function serialSettingsFrom(args: LineArgValues): SerialSettings {
  const settings: SerialSettings = {};
  const baud = wholeNumberArg(args.baud, "baud", { min: 50 });
  if (baud !== undefined) settings.baudRate = baud;
  if (args["data-bits"] !== undefined) {
    const bits = Number(args["data-bits"]);
    if (![5, 6, 7, 8].includes(bits)) throw new UsageError(`--data-bits ${args["data-bits"]}: use 5, 6, 7 or 8`);
    settings.dataBits = bits as 5 | 6 | 7 | 8;
  }
  if (args.parity !== undefined) {
    if (!["none", "even", "odd", "mark", "space"].includes(args.parity)) throw new UsageError(`--parity ${args.parity}: use none, even, odd, mark or space`);
    settings.parity = args.parity as SerialSettings["parity"];
  }
  if (args["stop-bits"] !== undefined) {
    const stop = Number(args["stop-bits"]);
    if (![1, 1.5, 2].includes(stop)) throw new UsageError(`--stop-bits ${args["stop-bits"]}: use 1, 1.5 or 2`);
    settings.stopBits = stop as 1 | 1.5 | 2;
  }
  if (args.rtscts) settings.rtscts = true;
  if (args.xonxoff) Object.assign(settings, { xon: true, xoff: true });
  return settings;
}

export interface LineBase {
  signer: DakSigner;
  deviceType: string;
  apid: string;
  boardId?: string;
  /** A single device's DSN (`--dsn`), when neither --dsn-file nor --dsn-template is given. */
  dsn?: string;
  appServerPublicKey: Uint8Array;
  controlLogDir: string;
  /** MaxAllowedSignature from the device profile, if known. */
  maxSignatures?: number;
}

/** Runs the station for `swtool sign --port ...` and prints its summary; returns it too. */
export async function runLineCommand(args: LineArgValues, ports: string[], base: LineBase): Promise<LineSummary> {
  const sources = [base.dsn !== undefined && "--dsn", args["dsn-file"] !== undefined && "--dsn-file", args["dsn-template"] !== undefined && "--dsn-template"].filter(Boolean);
  if (sources.length !== 1) {
    throw new UsageError(sources.length ? `give only one of ${sources.join(", ")}` : "the line needs DSNs: --dsn (one device), --dsn-file FILE or --dsn-template 'SN{seq:7}'");
  }
  if (args["dsn-start"] !== undefined && args["dsn-template"] === undefined) throw new UsageError("--dsn-start goes with --dsn-template");
  const count = wholeNumberArg(args.count, "count", { min: 1 });
  if (base.dsn !== undefined && count !== undefined && count > 1) throw new UsageError(`--count ${count} with a single --dsn`, { advice: "use --dsn-file or --dsn-template for more than one device" });
  const timeoutMs = wholeNumberArg(args["command-timeout"], "command-timeout", { min: 50 });
  mkdirSync(base.controlLogDir, { recursive: true });
  const ledger = await openLedger(args.ledger ?? join(base.controlLogDir, DEFAULT_LEDGER_NAME), stationOptions(args));
  try {
    let dsnSource: DsnSource;
    if (base.dsn !== undefined) dsnSource = fixedDsn(base.dsn);
    else if (args["dsn-file"] !== undefined) dsnSource = dsnFile(args["dsn-file"], ledger);
    else dsnSource = dsnTemplate(args["dsn-template"]!, wholeNumberArg(args["dsn-start"], "dsn-start", { min: 0 }) ?? 1, ledger);
    const reporter = lineReporter(output.json ? "json" : process.stderr.isTTY ? "tty" : "plain", ports, count === undefined ? {} : { count });
    const abort = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      if (++interrupts > 1) process.exit(130);
      log.warn("stopping: finishing the devices in flight (Ctrl-C again to quit at once)");
      abort.abort();
    };
    process.on("SIGINT", onSigint);
    try {
      const summary = await runLine({
        ports,
        signer: base.signer,
        deviceType: base.deviceType,
        apid: base.apid,
        ...(base.boardId ? { boardId: base.boardId } : {}),
        appServerPublicKey: base.appServerPublicKey,
        dsnSource,
        ledger,
        controlLogDir: base.controlLogDir,
        ...(count !== undefined ? { count } : {}),
        allowReprovision: args["allow-reprovision"] ?? false,
        serial: serialSettingsFrom(args),
        ...(timeoutMs !== undefined ? { protocol: { timeoutMs } } : {}),
        ...(base.maxSignatures !== undefined ? { maxSignatures: base.maxSignatures } : {}),
        signal: abort.signal,
        onEvent: (e) => reporter.onEvent(e),
      });
      reporter.finish();
      if (output.json) process.stdout.write(JSON.stringify({ type: "summary", ...summary }) + "\n");
      else printResult(summary, () => println(`${summary.provisioned} provisioned, ${summary.failed} failed, ${summary.refused} refused in ${summary.seconds.toFixed(1)} s (${summary.devicesPerHour.toFixed(0)} devices/h)`));
      if (summary.failed > 0 || summary.refused > 0 || (count !== undefined && summary.provisioned < count && summary.stoppedBy !== "signal")) process.exitCode = 1;
      return summary;
    } finally {
      process.off("SIGINT", onSigint);
    }
  } finally {
    await ledger.close();
  }
}
