// The PC side of the Factory Diagnostic Firmware's `cert` CLI: send one command, collect its
// `{CERT <piece>}` lines until `{CERT OK}` or `{CERT ERROR n}`, with a per-command timeout.
// Unrelated log lines are skipped, also chatty ones that mention `{CERT` without being one of
// the four answer forms: they go to the transcript and the command keeps waiting for its real
// answer until the timeout. The echo is checked against what was sent (a mismatch means
// the device read something else); after a timeout the link is resynchronised with
// an unknown command carrying a nonce, whose `<nonce>: command not found` marks the point
// after which nothing stale can arrive.
import { randomBytes } from "node:crypto";
import { SwtoolError } from "../../lib/errors.ts";
import type { DeviceLink } from "../../transport/link.ts";
import { classifyLine, echoedCommand, formatCommand } from "./lines.ts";
import { describeSidError } from "./sid-errors.ts";

export type FailureReason = "device-error" | "timeout" | "garbled" | "rejected" | "echo-mismatch" | "closed";

/** A command that did not end in `{CERT OK}`. */
export class DeviceCommandError extends SwtoolError {
  constructor(
    readonly reason: FailureReason,
    readonly command: string,
    message: string,
    readonly details: { code?: number; answer: string[]; advice?: string },
  ) {
    super(message, details.advice ? { advice: details.advice } : {});
  }
  /** The device's code, e.g. -11, for `device-error`. */
  get code(): number | undefined {
    return this.details.code;
  }
}

export interface CertAnswer {
  pieces: string[];
  mtu?: number;
  /** Every non-CERT line seen while waiting (echo, logs), cleaned. */
  lines: string[];
  /** Lines that looked like a CERT answer but were none (noise, or a real answer corrupted). */
  unreadable: number;
}

export interface CertClientOptions {
  /** Per-command timeout (default 3000 ms). */
  timeoutMs?: number;
  /** For commands that make keys or write flash: `csr`, `store` (default 3 x timeoutMs). */
  slowTimeoutMs?: number;
  /** Resynchronisation attempts before the device counts as not answering (default 3). */
  syncAttempts?: number;
  /** A line that shows a freshly booted device (default: DEFAULT_BOOT_BANNER). */
  bootBanner?: RegExp;
  /** Sees every line sent and received (diagnostics). */
  onTraffic?: (direction: "tx" | "rx", line: string) => void;
}

/** Zephyr and nRF Connect SDK boot lines (`*** Booting Sidewalk v2.7 ...`, `*** Using Zephyr OS ...`). */
export const DEFAULT_BOOT_BANNER = /\*\*\* Booting |\*\*\* Using Zephyr OS/;

/** The default banners plus the operator's `--boot-banner` patterns. */
export function bootBannerWith(extra: readonly string[]): RegExp {
  return new RegExp([DEFAULT_BOOT_BANNER.source, ...extra.map((p) => `(?:${p})`)].join("|"));
}
const SLOW_COMMANDS = /^cert (csr|store)\b/;

interface Waiter {
  resolve: (line: string | undefined) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class CertClient {
  private readonly queue: string[] = [];
  private waiter: Waiter | undefined;
  private closedError: Error | undefined;
  private closed = false;
  private seq = 0;
  private consumedSeq = 0;
  private okSeq = 0;
  private bootSeq = -1;
  private bootListeners: (() => void)[] = [];
  readonly timeoutMs: number;
  readonly slowTimeoutMs: number;
  private readonly syncAttempts: number;
  private readonly bootBanner: RegExp;
  /** The BASE64_MTU the device reported in `cert init` (32 until it says otherwise). */
  mtu = 32;

  constructor(
    readonly link: DeviceLink,
    private readonly options: CertClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.slowTimeoutMs = options.slowTimeoutMs ?? 3 * this.timeoutMs;
    this.syncAttempts = options.syncAttempts ?? 3;
    this.bootBanner = options.bootBanner ?? DEFAULT_BOOT_BANNER;
    link.onLine((line) => this.receive(line));
    link.onClose((error) => {
      this.closed = true;
      this.closedError = error;
      this.wake(undefined);
      for (const l of this.bootListeners.splice(0)) l();
    });
  }

  /** Lines received so far; a mark for `waitForBoot`. */
  get lineMark(): number {
    return this.seq;
  }

  /** The line that ended the last successful command (a boot banner after it is a new device). */
  get answerMark(): number {
    return this.okSeq;
  }

  /** The last lines received, with their numbers: what a board said while nobody asked. */
  private readonly recent: { seq: number; line: string }[] = [];

  /** The lines received after mark `since` (of the last 40). */
  linesSince(since: number): string[] {
    return this.recent.filter((r) => r.seq > since).map((r) => r.line);
  }

  private receive(line: string): void {
    this.seq++;
    this.recent.push({ seq: this.seq, line });
    if (this.recent.length > 40) this.recent.shift();
    this.options.onTraffic?.("rx", line);
    if (this.bootBanner.test(line)) {
      this.bootSeq = this.seq;
      this.bootLines = [];
      for (const l of this.bootListeners.splice(0)) l();
    } else if (this.bootLines.length < 40) this.bootLines.push(line);
    if (this.waiter) {
      this.consumedSeq = this.seq;
      this.wake(line);
    } else this.queue.push(line);
    // Keep memory flat when nobody reads (a chatty device between DUTs).
    if (this.queue.length > 1000) this.queue.splice(0, this.queue.length - 1000);
  }

  private wake(line: string | undefined): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(line);
  }

  private nextLine(deadline: number): Promise<string | undefined> {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      this.consumedSeq = this.seq - this.queue.length;
      return Promise.resolve(queued);
    }
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake(undefined), Math.max(0, deadline - Date.now()));
      this.waiter = { resolve, timer };
    });
  }

  private closedFailure(command: string, answer: string[]): DeviceCommandError {
    return new DeviceCommandError("closed", command, `${this.link.name} closed while waiting for \`${command}\`${this.closedError ? ` (${this.closedError.message})` : ""}`, {
      answer,
      advice: "check the cable or the serial server connection",
    });
  }

  private async send(text: string): Promise<void> {
    this.queue.length = 0;
    this.options.onTraffic?.("tx", text);
    try {
      await this.link.write(`${text}\r\n`);
    } catch (e) {
      throw new DeviceCommandError("closed", text, `${this.link.name}: cannot send \`${text}\` (${(e as Error).message})`, { answer: [] });
    }
  }

  /** Runs `words` with quoted `args`; resolves with the pieces when the device says OK. */
  async command(words: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<CertAnswer> {
    const text = formatCommand(words, args);
    if (this.closed) throw this.closedFailure(text, []);
    await this.send(text);
    const timeout = options.timeoutMs ?? (SLOW_COMMANDS.test(text) ? this.slowTimeoutMs : this.timeoutMs);
    const deadline = Date.now() + timeout;
    const answer: CertAnswer = { pieces: [], lines: [], unreadable: 0 };
    let echo: string | undefined;
    let lastUnreadable = "";
    const fail = (reason: FailureReason, message: string, code?: number) =>
      new DeviceCommandError(reason, text, message, code === undefined ? { answer: answer.lines } : { code, answer: answer.lines });
    for (;;) {
      const raw = await this.nextLine(deadline);
      if (raw === undefined) {
        if (this.closed) throw this.closedFailure(text, answer.lines);
        if (answer.unreadable > 0) throw fail("garbled", `no readable answer to \`${text}\` within ${timeout} ms (${answer.unreadable} unreadable, last ${JSON.stringify(lastUnreadable)})`);
        throw fail("timeout", `no answer to \`${text}\` within ${timeout} ms`);
      }
      const line = classifyLine(raw);
      if (line.kind === "garbled") {
        // Noise or a corrupted answer: either way the real answer (or the timeout) decides.
        answer.lines.push(line.text);
        answer.unreadable++;
        lastUnreadable = line.text;
        continue;
      }
      if (line.kind === "shell-error") {
        answer.lines.push(line.text);
        throw fail("rejected", `the device's shell refused \`${text}\`: ${line.text.trim()}`);
      }
      if (line.kind === "text") {
        answer.lines.push(line.text);
        echo ??= echoedCommand(line.text);
        continue;
      }
      for (const token of line.tokens) {
        if (token.kind === "piece") answer.pieces.push(token.data);
        else if (token.kind === "mtu") answer.mtu = token.mtu;
        else if (token.kind === "error") {
          answer.lines.push(line.text);
          // The device refused what it read, not what was sent: the line was damaged on the way.
          if (echo !== undefined && echo !== text) throw fail("echo-mismatch", `the device read ${JSON.stringify(echo)} for \`${text}\` and answered ERROR ${describeSidError(token.code)}`, token.code);
          throw fail("device-error", `the device answered \`${text}\` with ERROR ${describeSidError(token.code)}`, token.code);
        } else {
          if (echo !== undefined && echo !== text) {
            throw fail("echo-mismatch", `the device read ${JSON.stringify(echo)} for \`${text}\``);
          }
          if (answer.mtu !== undefined) this.mtu = answer.mtu;
          this.okSeq = this.consumedSeq;
          return answer;
        }
      }
    }
  }

  /**
   * Brings the link back to a known point after a timeout or garbage: sends an unknown command
   * with a nonce and waits for the shell's `<nonce>: command not found`; whatever came before
   * it (late answers, half lines) is dropped.
   */
  async resync(): Promise<void> {
    for (let attempt = 1; attempt <= this.syncAttempts; attempt++) {
      if (this.closed) throw this.closedFailure("resync", []);
      const nonce = `sync-${randomBytes(4).toString("hex")}`;
      await this.send(nonce);
      const deadline = Date.now() + this.timeoutMs;
      for (;;) {
        const raw = await this.nextLine(deadline);
        if (raw === undefined) break;
        if (raw.includes(`${nonce}:`)) {
          this.queue.length = 0;
          return;
        }
      }
    }
    if (this.closed) throw this.closedFailure("resync", []);
    throw new DeviceCommandError("timeout", "resync", `${this.link.name}: the device does not answer (${this.syncAttempts} attempts to resynchronise)`, {
      answer: [],
      advice: "check that a device is in the fixture, powered, and running the Factory Diagnostic Firmware",
    });
  }

  /** The lines that followed the last boot banner (the first 40): what the firmware said at start-up. */
  bootLines: string[] = [];

  /** Lines received up to the last boot banner (a mark to compare with `lineMark`). */
  get bootMark(): number {
    return this.bootSeq;
  }

  /**
   * A harmless question to whatever is in the fixture: an unknown command with a nonce.
   * "answered" when the shell says `<nonce>: command not found`, "boot" as soon as a boot
   * banner arrives after `bootMark`, "silent" after `timeoutMs`, "closed" if the port went away.
   */
  async probe(timeoutMs: number, bootMark = this.bootSeq): Promise<"answered" | "silent" | "boot" | "closed"> {
    if (this.closed) return "closed";
    if (this.bootSeq > bootMark) return "boot";
    const nonce = `sync-${randomBytes(4).toString("hex")}`;
    try {
      await this.send(nonce);
    } catch {
      return "closed";
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const raw = await this.nextLine(deadline);
      if (this.bootSeq > bootMark) return "boot";
      if (raw === undefined) return this.closed ? "closed" : "silent";
      if (raw.includes(`${nonce}:`)) return "answered";
    }
  }

  /** Resolves true when a boot banner arrives after `mark`, false when `signal` aborts or the link closes. */
  waitForBoot(mark: number, signal?: AbortSignal): Promise<boolean> {
    if (this.bootSeq > mark) return Promise.resolve(true);
    if (this.closed || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        this.bootListeners = this.bootListeners.filter((l) => l !== done);
        resolve(this.bootSeq > mark);
      };
      this.bootListeners.push(done);
      signal?.addEventListener("abort", done);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
