// One simulated fixture: a device's shell on a byte channel, and the devices the operator
// puts in it one after another. The shell echoes what it receives after its prompt, splits
// arguments as Zephyr's shell does (double quotes, backslash escapes), runs `cert ...`, and
// prints answers through the firmware's logger (nRF5 style, as in device-session.txt) or as
// Zephyr shell text with colour codes. Options make it behave like a real line: UART pacing
// at 115200 baud and per-command latency (`realistic`), unrelated log lines and colour codes
// (`noise`), and faults (`drop`, `garble`, `reset`, `silence`) at a rate per command.
import { CertCli, type OutputLine } from "./cert-cli.ts";
import type { StoredIdentity } from "./firmware.ts";
import { sleep } from "../../lib/sleep.ts";

export const FAULT_KINDS = ["drop", "garble", "reset", "silence"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type ShellStyle = "nrf5" | "zephyr";
/**
 * What a board prints when it boots: `sidewalk` (sdk-sidewalk debug build: Booting Sidewalk,
 * Using nRF Connect SDK, Using Zephyr OS), `ncs` and `zephyr` (older builds' one line),
 * `nrf5-sdk` (an nRF5-SDK-style start-up log line, no `***`), `none` (a release build).
 */
export const BANNER_STYLES = ["sidewalk", "ncs", "zephyr", "nrf5-sdk", "none"] as const;
export type BannerStyle = (typeof BANNER_STYLES)[number];

export interface FixtureOptions {
  style?: ShellStyle;
  /** UART pacing at `baudRate` and per-command latency of a real chip. */
  realistic?: boolean;
  baudRate?: number;
  noise?: boolean;
  faults?: readonly FaultKind[];
  /** Probability of a fault per received line (default 0.05 when faults are on). */
  faultRate?: number;
  /** How long `silence` keeps the device deaf (default 2000 ms). */
  silenceMs?: number;
  /** Time between `cert deinit` and the next device's boot banner (default 0, realistic 500 ms). */
  swapMs?: number;
  /** Whether `cert deinit` ends the device's turn in the fixture (default true). */
  swapOnDeinit?: boolean;
  /** How long the finished board stays in the fixture, answering, before it is taken out (default 0). */
  lingerMs?: number;
  /** The boot output of each board (default: the shell style's own banner line). */
  banner?: BannerStyle;
  /** The finished board reboots (a power blip) halfway through its `lingerMs` in the fixture. */
  rebootLingering?: boolean;
  /** With `rebootLingering`: the board is deaf this long before it boots (a slow power cycle; default 0). */
  rebootSilentMs?: number;
  /** Devices this fixture presents; unlimited when absent. */
  count?: number;
  random?: () => number;
  /**
   * Answer every command that starts with `command` with `{CERT ERROR code}` (a failing chip
   * or flash); with `devices`, only on those boards (1 = the first put in this fixture); with
   * `fixtures`, only in those fixtures (as numbered by the simulator: a tray with the wrong firmware).
   */
  errorAt?: { command: string; code: number; devices?: number[]; fixtures?: number[] };
  /**
   * A fault at a chosen place: the `nth` (default 1) line starting with `command` of every
   * device gets `kind` (`garble-input` damages what the chip reads, `garble-output` its answer).
   */
  faultAt?: { command: string; kind: FaultKind | "garble-input" | "garble-output"; nth?: number };
  /** Probability of a noise line before each answer line (default 0.15 with `noise`). */
  noiseRate?: number;
}

export interface DeviceRecord {
  fixture: number;
  /** 1 for the first device put in this fixture. */
  device: number;
  /** What `cert store` wrote, when it succeeded. */
  stored?: StoredIdentity;
  faults: { kind: FaultKind; line: string }[];
}

/** Processing time of a Cortex-M4 running the firmware, per command (ms). */
const LATENCY_MS: Record<string, number> = { init: 2, deinit: 2, smsn: 4, "csr ed25519": 25, "csr p256r1": 90, chain: 2, app_key: 2, store: 250 };

function latencyOf(argv: string[]): number {
  if (argv[0] !== "cert") return 1;
  return LATENCY_MS[argv.slice(1, 3).join(" ")] ?? LATENCY_MS[argv[1] ?? ""] ?? 2;
}

/** Splits a command line as Zephyr's shell does: spaces separate, quotes group, backslash escapes. */
export function splitArguments(line: string): string[] {
  const argv: string[] = [];
  let current = "";
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (ch === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (ch === " " && !quoted) {
      if (inWord) argv.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) argv.push(current);
  return argv;
}

export const NOISE_LINES = [
  "<info> sid_pal: radio idle",
  "<info> app: factory test mode",
  "<dbg> sid_ble: adv stopped",
  "<wrn> sid_pal: temperature sensor not calibrated",
  "<info> sid_mfg: mfg store version 8",
  // Chatty firmware that mentions the CLI's framing without giving an answer.
  "<dbg> sid_cli: {CERT chain buffer 128/628}",
  "<info> app: {CERT state 0x1f}",
  "<dbg> sid_cli: parsing {CERT OK pending",
  "<wrn> app: {CERT ERROR will follow on invalid piece}",
];

export class FixtureSimulator {
  readonly devices: DeviceRecord[] = [];
  private cli = new CertCli();
  private empty = false;
  private bootedAt = Date.now();
  private inputBuffer = "";
  private lines: string[] = [];
  private processing = false;
  private silentUntil = 0;
  private readonly seenAt = new WeakMap<DeviceRecord, number>();
  private stopped = false;
  private txFreeAt = 0;
  /** When the chip has received the current line and finished running it (realistic mode). */
  private readyAt = 0;
  /** When the current line's first byte reached the chip (realistic mode). */
  private rxStartedAt = 0;
  private outputChain: Promise<void> = Promise.resolve();
  private resolveDone!: () => void;
  /** Resolves when the fixture has presented `count` devices and the last one is deinitialised. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private readonly random: () => number;
  private readonly style: ShellStyle;
  private readonly byteMs: number;

  constructor(
    readonly fixture: number,
    private readonly send: (data: Uint8Array) => Promise<void> | void,
    private readonly options: FixtureOptions = {},
    private readonly onStored: (record: DeviceRecord) => void = () => {},
  ) {
    this.random = options.random ?? Math.random;
    this.style = options.style ?? "nrf5";
    // 8N1: ten bit times per byte.
    this.byteMs = 10_000 / (options.baudRate ?? 115200);
    this.insertDevice();
  }

  /** The current device (the one in the fixture). */
  get current(): DeviceRecord | undefined {
    return this.empty ? undefined : this.devices[this.devices.length - 1];
  }

  private insertDevice(): void {
    if (this.options.count !== undefined && this.devices.length >= this.options.count) {
      this.empty = true;
      this.resolveDone();
      return;
    }
    this.empty = false;
    this.devices.push({ fixture: this.fixture, device: this.devices.length + 1, faults: [] });
    this.cli = new CertCli();
    this.boot();
  }

  private boot(): void {
    this.bootedAt = Date.now();
    const lines = this.bannerLines();
    // What sid_mfg says at start-up: a provisioned board parsed its manufacturing store.
    const mfg = this.cli.lib.stored ? `[${this.timestamp()}] <info> sid_mfg: Successfully parsed mfg data` : `[${this.timestamp()}] <warning> sid_mfg: The mfg.hex version mismatch`;
    this.emit(`\r\n${lines.map((l) => `${l}\r\n`).join("")}${mfg}\r\n${this.logLine({ level: "info", text: "Sidewalk factory firmware ready" })}\r\n${this.prompt}`);
  }

  private bannerLines(): string[] {
    switch (this.options.banner) {
      case undefined:
        return [this.style === "zephyr" ? "*** Booting nRF Connect SDK v2.7.0 (simulated) ***" : "*** Booting Sidewalk Factory Diagnostic Firmware (simulated) ***"];
      case "sidewalk":
        return ["*** Booting Sidewalk v2.7.0-simulated ***", "*** Using nRF Connect SDK v2.7.0-5cb85570ca43 ***", "*** Using Zephyr OS v3.6.99-100befc70c74 ***"];
      case "ncs":
        return ["*** Booting nRF Connect SDK v2.5.0 ***"];
      case "zephyr":
        return ["*** Booting Zephyr OS build v3.5.99-ncs1 ***"];
      case "nrf5-sdk":
        return [`[${this.timestamp()}] <info> app: Sidewalk factory test application started (nRF5 SDK 17.1.0)`];
      case "none":
        return [];
    }
  }

  /** Host hooks: the board leaves the fixture (USB CDC: the port goes away) and the next one arrives. */
  onRemoved: () => Promise<void> | void = () => {};
  onInserted: () => Promise<void> | void = () => {};

  private get prompt(): string {
    return this.style === "zephyr" ? "uart:~$ " : "--> ";
  }

  private timestamp(): string {
    return String(Date.now() - this.bootedAt).padStart(8, "0");
  }

  private logLine(line: OutputLine): string {
    if (this.style === "zephyr") {
      // shell_info prints green, shell_warn yellow, shell_error red.
      const colour = line.level === "error" ? "\x1b[1;31m" : line.level === "warn" ? "\x1b[1;33m" : "\x1b[1;32m";
      return `${colour}${line.text}\x1b[0m`;
    }
    const level = { info: "info", warn: "warning", error: "error" }[line.level];
    return `[${this.timestamp()}] <${level}> app: ${line.text}`;
  }

  private noiseLine(): string {
    const text = NOISE_LINES[Math.floor(this.random() * NOISE_LINES.length)]!;
    const line = `[${this.timestamp()}] ${text}`;
    return this.random() < 0.5 ? `\x1b[1;33m${line}\x1b[0m` : line;
  }

  /**
   * Queues bytes for the wire; with pacing, each chunk is delivered when the UART would have
   * sent its last byte, starting no earlier than `notBefore` (one timer per answer, so timer
   * granularity does not add up over the ~70 commands of a device).
   */
  private emit(text: string, notBefore = 0): void {
    const data = Buffer.from(text, "latin1");
    if (!this.options.realistic) {
      this.outputChain = this.outputChain.then(() => this.send(data)).catch(() => {});
      return;
    }
    const now = performance.now();
    this.txFreeAt = Math.max(now, notBefore, this.txFreeAt) + data.length * this.byteMs;
    const at = this.txFreeAt;
    this.outputChain = this.outputChain
      .then(() => sleep(at - performance.now()))
      .then(() => this.send(data))
      .catch(() => {});
  }

  /** Bytes from the PC. */
  input(chunk: Uint8Array): void {
    if (this.stopped) return;
    this.inputBuffer += Buffer.from(chunk).toString("latin1");
    for (;;) {
      const end = this.inputBuffer.search(/[\r\n]/);
      if (end < 0) break;
      const line = this.inputBuffer.slice(0, end);
      const crlf = this.inputBuffer[end] === "\r" && this.inputBuffer[end + 1] === "\n";
      this.inputBuffer = this.inputBuffer.slice(end + (crlf ? 2 : 1));
      this.lines.push(line);
    }
    void this.process();
  }

  private pickFault(line: string): FaultKind | "garble-input" | "garble-output" | undefined {
    const at = this.options.faultAt;
    if (at && line.startsWith(at.command) && this.current) {
      const seen = (this.seenAt.get(this.current) ?? 0) + 1;
      this.seenAt.set(this.current, seen);
      if (seen === (at.nth ?? 1)) return at.kind;
    }
    const faults = this.options.faults ?? [];
    if (faults.length === 0 || this.random() >= (this.options.faultRate ?? 0.05)) return undefined;
    return faults[Math.floor(this.random() * faults.length)];
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.lines.length && !this.stopped) {
        let line = this.lines.shift()!;
        // A real UART needs the time to receive the line before the firmware sees it, and the
        // chip runs one command at a time: the answer is due after both.
        if (this.options.realistic) {
          this.rxStartedAt = Math.max(performance.now(), this.readyAt);
          this.readyAt = this.rxStartedAt + (line.length + 2) * this.byteMs + latencyOf(splitArguments(line));
        }
        if (this.empty || Date.now() < this.silentUntil) continue;
        const fault = this.pickFault(line);
        if (fault) this.current?.faults.push({ kind: fault === "garble-input" || fault === "garble-output" ? "garble" : fault, line });
        if (fault === "drop") continue;
        if (fault === "silence") {
          this.silentUntil = Date.now() + (this.options.silenceMs ?? 2000);
          continue;
        }
        if (fault === "reset") {
          // The chip reboots: RAM state (the library context, the CLI's buffers) is gone.
          const stored = this.cli.lib.stored;
          this.cli = new CertCli();
          this.cli.lib.stored = stored;
          await sleep(this.options.realistic ? 50 : 1);
          this.boot();
          continue;
        }
        const garbleInput = fault === "garble-input" || (fault === "garble" && this.random() < 0.5);
        if (garbleInput) line = garble(line, this.random);
        await this.runLine(line, fault === "garble-output" ? "token" : fault === "garble" && !garbleInput ? "any" : undefined);
      }
    } finally {
      this.processing = false;
    }
  }

  private async runLine(line: string, garbleOutput: "any" | "token" | undefined): Promise<void> {
    // The shell echoes each character as it arrives (the UART is full duplex), so on a real
    // line the echo goes out while the command is still coming in, not after it.
    this.emit(`${line}\r\n`, this.rxStartedAt);
    const parts: string[] = [];
    const argv = splitArguments(line);
    let answer: string[] = [];
    let deinitDone = false;
    if (argv.length > 0) {
      const failing = this.options.errorAt;
      if (failing && line.startsWith(failing.command) && (!failing.devices || failing.devices.includes(this.current?.device ?? 0)) && (!failing.fixtures || failing.fixtures.includes(this.fixture))) {
        answer = [this.logLine({ level: "info", text: `{CERT ERROR ${failing.code}}` })];
      } else if (argv[0] === "cert") {
        const out = this.cli.run(argv.slice(1));
        answer = out.map((l) => (l.text.startsWith("{CERT") ? this.logLine(l) : l.level === "info" ? l.text : this.logLine(l)));
        if (argv[1] === "store" && out.at(-1)?.text === "{CERT OK}") {
          const record = this.current;
          if (record) {
            record.stored = this.cli.lib.stored;
            this.onStored(record);
          }
        }
        deinitDone = argv[1] === "deinit" && argv.length === 2 && this.options.swapOnDeinit !== false;
      } else {
        answer = [`${argv[0]}: command not found`];
      }
    }
    if (this.options.noise) {
      const rate = this.options.noiseRate ?? 0.15;
      answer = answer.flatMap((l) => (this.random() < rate ? [this.noiseLine(), l] : [l]));
      if (this.random() < 0.2) answer.unshift(this.noiseLine());
    }
    if (garbleOutput === "any" && answer.length) {
      const i = Math.floor(this.random() * answer.length);
      answer[i] = garble(answer[i]!, this.random);
    } else if (garbleOutput === "token") {
      // The answer's last CERT token (the OK or ERROR) loses a character on the wire.
      const i = answer.findLastIndex((l) => l.includes("{CERT "));
      if (i >= 0) {
        const l = answer[i]!;
        const at = l.lastIndexOf("{CERT ");
        answer[i] = l.slice(0, at) + garble(l.slice(at, l.indexOf("}", at) + 1), this.random) + l.slice(l.indexOf("}", at) + 1);
      }
    }
    for (const l of answer) parts.push(`${l}\r\n`);
    parts.push(this.prompt);
    this.emit(parts.join(""), this.readyAt);
    if (deinitDone) {
      // The finished board may sit in the fixture a while (answering), then the operator takes
      // it out and puts the next one in; meanwhile nobody listens.
      const record = this.current;
      const remove = async () => {
        if (this.stopped || this.current !== record) return;
        this.empty = true;
        await this.outputChain;
        await this.onRemoved();
        setTimeout(async () => {
          if (this.stopped) return;
          await this.onInserted();
          if (!this.stopped) this.insertDevice();
        }, this.options.swapMs ?? (this.options.realistic ? 500 : 0));
      };
      if (this.options.lingerMs) {
        if (this.options.rebootLingering) {
          setTimeout(() => {
            if (this.current !== record || this.stopped) return;
            const silent = this.options.rebootSilentMs ?? 0;
            this.silentUntil = Date.now() + silent;
            setTimeout(() => this.current === record && !this.stopped && this.boot(), silent);
          }, this.options.lingerMs / 2);
        }
        setTimeout(() => void remove(), this.options.lingerMs);
      }
      else void remove();
    }
  }

  /** The operator takes the board out now (whatever it is doing): the fixture is silent until `putIn`. */
  async takeOut(): Promise<void> {
    if (this.empty) return;
    this.empty = true;
    await this.outputChain;
    await this.onRemoved();
  }

  /** The operator puts the next board in now (it boots). */
  async putIn(): Promise<void> {
    if (!this.empty || this.stopped) return;
    await this.onInserted();
    this.insertDevice();
  }

  stop(): void {
    this.stopped = true;
    this.resolveDone();
  }

  /** Resolves once everything emitted so far has been handed to the wire. */
  flushed(): Promise<void> {
    return this.outputChain;
  }
}

/** Replaces one printable character with another, the way line noise flips bits. */
function garble(text: string, random: () => number): string {
  const printable = [...text].map((c, i) => (c >= " " && c <= "~" ? i : -1)).filter((i) => i >= 0);
  if (printable.length === 0) return text;
  const at = printable[Math.floor(random() * printable.length)]!;
  const old = text.charCodeAt(at);
  const replacement = String.fromCharCode(0x21 + ((old - 0x21 + 1 + Math.floor(random() * 92)) % 94));
  return text.slice(0, at) + replacement + text.slice(at + 1);
}
