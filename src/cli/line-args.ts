// The production-line arguments of `swtool sign --port ...` and the glue from parsed
// arguments to runLine(): DSN source, ledger, serial settings, Ctrl-C handling, live status.
// Usage in a command:  `...lineArgs` in args, then in run({ args, rawArgs }):
//   const ports = repeatedArg(rawArgs, "port");
//   const plan = await prepareLine(args, rawArgs, { dsn, controlLogDir });   // before the HSM opens
//   try { await runLineCommand(plan, ports, { signer, deviceType, apid, ... }) } finally { await plan.close() }
import type { ArgsDef } from "citty";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { dsnFile, dsnTemplate, fixedDsn, type DsnSource } from "../device/dsn.ts";
import { runLine, type LineEvent, type LineSummary } from "../device/line.ts";
import { checkPortName, type SerialSettings } from "../transport/open.ts";
import { lineReporter, summaryLines } from "./line-view.ts";
import { bootBannerWith } from "../device/protocol/client.ts";
import { eventRecord, printEvent } from "./events.ts";

/** Boards failed in a row after which a fixture stops (a tray with the wrong firmware, a broken fixture). */
export const DEFAULT_MAX_CONSECUTIVE_FAILURES = 5;
import { deviceHooks, type HookArgValues } from "./hooks.ts";
import { operatorInputFrom } from "./operator-input.ts";
import { openTranscript, type Transcript } from "./transcript.ts";
import { DEFAULT_LEDGER_NAME, openLedger } from "../ledger/ledger.ts";
import type { DakSigner } from "../sidewalk/signer.ts";
import { ledgerPasswordArgs, stationArgs, stationOptions } from "./ledger-args.ts";
import { log, output, println } from "./output.ts";
import { wholeNumberArg } from "./args.ts";
import { thisCommandLine } from "./command-line.ts";

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
  port: { type: "string", description: "Fixture port: /dev/ttyUSB0, COM3, usb:SERIAL (the adapter's USB serial number, as `swtool ports` lists it; found again after re-enumeration) or socket://host:port (repeat for more fixtures)" },
  count: { type: "string", description: "Stop after this many good devices (default: run until Ctrl-C)" },
  "dsn-file": { type: "string", description: "File of DSNs, one per line, used in order" },
  "dsn-template": { type: "string", description: "DSN template with a counter, e.g. 'SN{seq:7}'" },
  "dsn-start": { type: "string", description: "First number for --dsn-template (default 1; the ledger never repeats one)" },
  ledger: { type: "string", description: "Ledger: a file (default swtool.db in the control log directory) or postgres://user@host:port/db shared by the factory" },
  ...ledgerPasswordArgs,
  ...stationArgs,
  "allow-reprovision": { type: "boolean", description: "Provision a DSN or SMSN the ledger has seen provisioned" },
  "boot-banner": { type: "string", description: "A regular expression for another boot line that means a new board (repeatable; '*** Booting ' and '*** Using Zephyr OS' are always on)" },
  "next-device": { type: "string", description: "auto (banner, presence or port re-enumeration; default) or prompt (the operator presses Enter)" },
  "dsn-scan": { type: "boolean", description: "With --next-device prompt: the line the operator scans is the board's DSN" },
  "allow-missing-fixtures": { type: "boolean", description: "Start although a --port cannot be opened, and wait for it" },
  transcript: { type: "string", description: "Append every line sent to and received from each fixture (noise included) to this file, with time, port and direction" },
  "max-consecutive-failures": { type: "string", description: `Stop a fixture after this many boards in a row failed on it (default ${DEFAULT_MAX_CONSECUTIVE_FAILURES}; 0: never)` },
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
    else continue;
    // An empty value (`--port ""`) is refused here, before the HSM is opened.
    if (name === "port") checkPortName(values.at(-1)!);
  }
  return values;
}

export type LineArgValues = { [K in keyof typeof lineArgs]?: (typeof lineArgs)[K]["type"] extends "boolean" ? boolean : string };

/** `--command-timeout`: milliseconds, a whole number of at least 50 (the line and `device probe`). */
export function commandTimeoutOf(args: { "command-timeout"?: string | undefined }): number | undefined {
  return wholeNumberArg(args["command-timeout"], "command-timeout", { min: 50 });
}

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

/** The line's flags, checked (and its ledger opened) before the HSM is: a typo never waits for a session. */
export interface LinePlan {
  nextDevice: "auto" | "prompt";
  scan: boolean;
  count?: number;
  timeoutMs?: number;
  hooks: ReturnType<typeof deviceHooks>;
  maxConsecutiveFailures: number;
  allowReprovision: boolean;
  allowMissingFixtures: boolean;
  banners: string[];
  /** The run's command line for the recovery commands it prints (no PIN). */
  commandLine: string[];
  serial: SerialSettings;
  ledger: Awaited<ReturnType<typeof openLedger>>;
  dsnSource: DsnSource;
  /** `--transcript FILE`, open for appending. */
  transcript?: Transcript;
  close(): Promise<void>;
}

/** Checks every line flag and opens the ledger and the DSN source; `close()` when done. */
export async function prepareLine(args: LineArgValues & HookArgValues, rawArgs: readonly string[], base: { dsn?: string; controlLogDir: string }): Promise<LinePlan> {
  const scan = args["dsn-scan"] ?? false;
  const nextDevice = args["next-device"] ?? (scan ? "prompt" : "auto");
  if (nextDevice !== "auto" && nextDevice !== "prompt") throw new UsageError(`--next-device ${nextDevice}: use auto or prompt`);
  if (scan && nextDevice !== "prompt") throw new UsageError("--dsn-scan goes with --next-device prompt (the operator scans each board)");
  const sources = [base.dsn !== undefined && "--dsn", args["dsn-file"] !== undefined && "--dsn-file", args["dsn-template"] !== undefined && "--dsn-template", scan && "--dsn-scan"].filter(Boolean);
  if (sources.length !== 1) {
    throw new UsageError(sources.length ? `give only one of ${sources.join(", ")}` : "the line needs DSNs: --dsn (one device), --dsn-file FILE, --dsn-template 'SN{seq:7}' or --dsn-scan");
  }
  if (args["dsn-start"] !== undefined && args["dsn-template"] === undefined) throw new UsageError("--dsn-start goes with --dsn-template");
  const count = wholeNumberArg(args.count, "count", { min: 1 });
  if (base.dsn !== undefined && count !== undefined && count > 1) throw new UsageError(`--count ${count} with a single --dsn`, { advice: "use --dsn-file or --dsn-template for more than one device" });
  const timeoutMs = commandTimeoutOf(args);
  const hooks = deviceHooks(args, "line");
  const maxConsecutiveFailures = wholeNumberArg(args["max-consecutive-failures"], "max-consecutive-failures", { min: 0 }) ?? DEFAULT_MAX_CONSECUTIVE_FAILURES;
  const dsnStart = wholeNumberArg(args["dsn-start"], "dsn-start", { min: 0 }) ?? 1;
  const banners = repeatedArg(rawArgs, "boot-banner");
  for (const b of banners) {
    try {
      new RegExp(b);
    } catch (e) {
      throw new UsageError(`--boot-banner ${JSON.stringify(b)} is not a regular expression: ${(e as Error).message}`);
    }
  }
  const serial = serialSettingsFrom(args);
  mkdirSync(base.controlLogDir, { recursive: true });
  const transcript = args.transcript !== undefined ? openTranscript(args.transcript) : undefined;
  let ledger: LinePlan["ledger"];
  try {
    ledger = await openLedger(args.ledger ?? join(base.controlLogDir, DEFAULT_LEDGER_NAME), stationOptions(args));
  } catch (e) {
    transcript?.close();
    throw e;
  }
  try {
    let dsnSource: DsnSource;
    if (scan) dsnSource = { description: "scanned DSNs", single: true, next: async () => undefined };
    else if (base.dsn !== undefined) dsnSource = fixedDsn(base.dsn);
    else if (args["dsn-file"] !== undefined) dsnSource = dsnFile(args["dsn-file"], ledger);
    else dsnSource = dsnTemplate(args["dsn-template"]!, dsnStart, ledger);
    // A fresh default ledger (new log folder, second PC) silently starts the template at 1 again.
    if (args["dsn-template"] !== undefined && args.ledger === undefined && args["dsn-start"] === undefined && (await ledger.list({ limit: 1 })).length === 0) {
      log.warn(
        `the ledger ${ledger.path} is new, so --dsn-template ${args["dsn-template"]} starts at 1: another line PC or a new log folder would hand out the same numbers; ` +
          "share one ledger (--ledger postgres://user@host:port/db) or give each line its own range (--dsn-start N)",
      );
    }
    return {
      nextDevice,
      scan,
      ...(count !== undefined ? { count } : {}),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      hooks,
      maxConsecutiveFailures,
      allowReprovision: args["allow-reprovision"] ?? false,
      allowMissingFixtures: args["allow-missing-fixtures"] ?? false,
      banners,
      commandLine: thisCommandLine(["sign"], rawArgs),
      serial,
      ledger,
      dsnSource,
      ...(transcript ? { transcript } : {}),
      close: async () => {
        transcript?.close();
        await ledger.close();
      },
    };
  } catch (e) {
    transcript?.close();
    await ledger.close();
    throw e;
  }
}

/** Runs the station for `swtool sign --port ...` and prints its summary; returns it too. */
export async function runLineCommand(plan: LinePlan, ports: string[], base: LineBase): Promise<LineSummary> {
  const { nextDevice, scan, count, timeoutMs, hooks, maxConsecutiveFailures, banners, ledger, dsnSource, transcript } = plan;
  // On a terminal the operator's Enter (and a scanner's DSN) is echoed below the view's block.
  let typed = () => {};
  let ignored = () => {};
  const operator = nextDevice === "prompt" ? operatorInputFrom(process.stdin, { onLine: () => typed(), typeAhead: scan, onIgnored: () => ignored() }) : undefined;
  try {
    const mode = output.json ? "json" : process.stderr.isTTY ? "tty" : "plain";
    const reporter = lineReporter(mode, ports, { ...(count === undefined ? {} : { count }), ...(base.maxSignatures !== undefined ? { maxSignatures: base.maxSignatures } : {}) });
    if (process.stdin.isTTY) typed = () => reporter.typed?.();
    ignored = () => reporter.onEvent({ type: "warning", message: "Enter ignored: no fixture is waiting" });
    if (transcript) transcript.onError = (message) => reporter.onEvent({ type: "warning", message });
    const stop = new AbortController();
    const abort = new AbortController();
    // Ctrl-C, SIGTERM (a service manager) and SIGHUP (the terminal closed) all stop the line
    // the same way: the first finishes the devices in flight, the second aborts them cleanly.
    let interrupts = 0;
    const onSignal = () => {
      if (++interrupts === 1) stop.abort();
      else abort.abort();
    };
    // A Windows console delivers Ctrl-C and Ctrl-Break (Bun raises it as SIGBREAK); closing the
    // window leaves a few seconds only, too few to finish a device, so it is not handled.
    const signals = (process.platform === "win32" ? ["SIGINT", "SIGBREAK"] : ["SIGINT", "SIGTERM", "SIGHUP"]) as NodeJS.Signals[];
    for (const s of signals) process.on(s, onSignal);
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
        allowReprovision: plan.allowReprovision,
        allowMissingFixtures: plan.allowMissingFixtures,
        serial: plan.serial,
        protocol: { ...(timeoutMs !== undefined ? { timeoutMs } : {}), bootBanner: bootBannerWith(banners) },
        ...(base.maxSignatures !== undefined ? { maxSignatures: base.maxSignatures } : {}),
        nextDevice,
        ...(operator ? { operatorInput: operator } : {}),
        dsnScan: scan,
        maxConsecutiveFailures,
        commandLine: plan.commandLine,
        signal: stop.signal,
        abortSignal: abort.signal,
        onDakLoaded: (used) => reporter.signaturesBefore?.(used),
        ...(transcript ? { onTraffic: (port: string, direction: "tx" | "rx", line: string) => transcript.line(port, direction, line) } : {}),
        onEvent: (e) => {
          if (transcript) noteInTranscript(transcript, e);
          reporter.onEvent(e);
          if (e.type === "device-done" || e.type === "device-failed") hooks.device(eventRecord(e, "line"));
        },
      });
      reporter.finish();
      await hooks.settle();
      if (output.json) printEvent({ type: "summary", ...summary }, "line");
      else for (const line of summaryLines(summary)) println(line);
      if (summary.failed > 0 || summary.refused > 0 || summary.stoppedBy === "io-error" || summary.stoppedBy === "hsm-pin" || (count !== undefined && summary.provisioned < count && summary.stoppedBy !== "signal")) process.exitCode = 1;
      return summary;
    } finally {
      // Also when the run ended with an error: the view's clock stops (finish is idempotent).
      reporter.finish();
      for (const s of signals) process.off(s, onSignal);
    }
  } finally {
    operator?.close();
  }
}

/** The station's notes between a fixture's lines: which board the traffic that follows is for, and how it ended. */
function noteInTranscript(transcript: Transcript, e: LineEvent): void {
  if (e.type === "device-start") transcript.line(e.port, "--", `${e.dsn} started (SMSN ${e.smsn})`);
  else if (e.type === "device-done") transcript.line(e.port, "--", `PASS ${e.dsn} in ${e.seconds.toFixed(1)} s -> ${e.controlLog}`);
  else if (e.type === "device-failed") transcript.line(e.port, "--", `FAIL ${e.dsn} at ${e.step}: ${e.error}`);
  else if (e.type === "refused") transcript.line(e.port, "--", `refused ${e.dsn}: ${e.reason}`);
}
