// A production station: one worker per fixture port, all sharing one DakSigner (the HSM
// session pool), the DSN source and the ledger. The Station owns the totals, the stop signal
// and the DAK counter. Each worker waits for a board (fixture.ts), passes the line's gates
// (the HSM can sign, --count leaves room, nothing stopped the line), takes a DSN and
// provisions the board (flow.ts). The line stops when `count` good devices are done, the DSN
// source runs out, the control-log folder fails (station-level I/O error), or the operator
// stops it: a first stop (Ctrl-C) finishes the devices in flight and starts no new one,
// `abort()` (a second Ctrl-C) ends those too, each with `cert deinit` and its ledger row.
import { CredentialsRejectedError, SwtoolError, UsageError } from "../lib/errors.ts";
import { LedgerConflictError, type Ledger } from "../ledger/ledger.ts";
import { ledgerRetrier, retryingLedger, type Retrier } from "../ledger/retry.ts";
import { recoverOrphanedAttempts } from "./recover.ts";
import { toHex } from "../lib/bytes.ts";
import { CURVE_NAMES, type Curve } from "../sidewalk/curves.ts";
import { observeSignatures, type DakSigner } from "../sidewalk/signer.ts";
import type { Cert } from "../sidewalk/chain.ts";
import { validateDsn } from "../sidewalk/smsn.ts";
import type { DsnSource } from "./dsn.ts";
import type { FailedDevice, LineEvent, LineSummary, PortTotals, StopReason } from "./events.ts";
import { boardStillThere, FixturePort, waitForBoard, waitForOperator, WAITING_TEXT, type OperatorInput, type PortLister, type PresenceOptions, type WaitingFor } from "./fixture.ts";
import { BOARD_ACTIONS, checkControlLogRoom, deviceSmsn, provisionDevice, ProvisioningError } from "./flow.ts";
import type { SerialSettings } from "../transport/open.ts";
import type { CertClient, CertClientOptions } from "./protocol/client.ts";
import { describeSidError } from "./protocol/sid-errors.ts";
import { reprovisionCommand, writeLogCommand } from "./rerun.ts";

export type { LineEvent, LineSummary } from "./events.ts";

export interface LineOptions {
  ports: string[];
  signer: DakSigner;
  deviceType: string;
  apid: string;
  boardId?: string;
  appServerPublicKey: Uint8Array;
  dsnSource: DsnSource;
  ledger: Ledger;
  controlLogDir: string;
  /** Stop after this many good devices (all ports together). */
  count?: number;
  allowReprovision?: boolean;
  serial?: SerialSettings;
  protocol?: CertClientOptions;
  retries?: number;
  restarts?: number;
  /** The DAK's MaxAllowedSignature from the device profile: shown, and warned about near it. */
  maxSignatures?: number;
  /** Stop = Ctrl-C: finish the devices in flight, start no new ones. */
  signal?: AbortSignal;
  /** Abort = a second Ctrl-C: end the devices in flight too (cert deinit, ledger updated). */
  abortSignal?: AbortSignal;
  /** How the next board is recognised: banner, presence or re-enumeration (auto), or the operator (prompt). */
  nextDevice?: "auto" | "prompt";
  /** The operator's Enter presses or scanned lines, for `nextDevice: "prompt"`. */
  operatorInput?: OperatorInput;
  /** With the prompt: each line the operator enters is the board's DSN (a barcode scanner). */
  dsnScan?: boolean;
  presence?: PresenceOptions;
  /** Start with the fixtures that open, and wait for the others to appear. */
  allowMissingFixtures?: boolean;
  /** Where `usb:SERIAL` ports are looked up (default: the system's serial ports). */
  listPorts?: PortLister;
  /**
   * A fixture stops after this many boards in a row failed on it (a whole tray with the wrong
   * firmware, a broken fixture); the others go on. Absent or 0: never.
   */
  maxConsecutiveFailures?: number;
  /**
   * How this run was started, program first, without the PIN: a board that stored its
   * identity but got no control log is told with this command, made for that board alone.
   */
  commandLine?: readonly string[];
  /** Free bytes the control-log folder needs before each `cert store` (default 1 MiB). */
  minFreeBytes?: number;
  onEvent?: (event: LineEvent) => void;
  /** Every line sent to (`tx`) and received from (`rx`) each fixture, noise included (`--transcript`). */
  onTraffic?: (port: string, direction: "tx" | "rx", line: string) => void;
  /** The DAK signatures the ledger counted before the first board (busiest key): for the view. */
  onDakLoaded?: (used: number) => void;
}

/** A DAK's name in the ledger: product tag, curve and its certificate's serial. */
const dakIdOf = (productTag: string, curve: Curve, caCerts: readonly Cert[]) => `${productTag}/${curve}/${toHex(caCerts[0]!.serial)}`;

/**
 * How many DAK signatures the line has made, kept in the ledger per DAK (several HSMs may hold
 * different DAKs of the product), warned about near the profile's maximum.
 */
class DakCounter {
  readonly ids: Record<Curve, string>;
  private readonly warnedAt = new Set<string>();
  /** Per DAK id: the ledger's count (factory-wide on PostgreSQL). */
  private readonly totals = new Map<string, number>();
  made = 0;
  /** Signature counts go to the ledger in order, without holding up the device. */
  private counting: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ledger: Ledger,
    signer: DakSigner,
    readonly max: number | undefined,
    private readonly warn: (message: string) => void,
  ) {
    this.ids = Object.fromEntries(CURVE_NAMES.map((c) => [c, dakIdOf(signer.productTag, c, signer.caCerts(c))])) as Record<Curve, string>;
  }

  async load(): Promise<void> {
    for (const c of CURVE_NAMES) this.totals.set(this.ids[c], await this.ledger.signatureCount(this.ids[c]));
  }

  /** Signatures the busiest DAK key has made, over every run this ledger saw. */
  get used(): number {
    return Math.max(0, ...this.totals.values());
  }

  /** One signature by the DAK `id` (default: the first HSM's DAK of that curve). */
  count(curve: Curve, id = this.ids[curve]): void {
    this.made++;
    this.totals.set(id, (this.totals.get(id) ?? 0) + 1);
    this.counting = this.counting.then(() => this.record(id)).catch((e) => this.warn(`DAK signature count not recorded: ${(e as Error).message}`));
  }

  private async record(id: string): Promise<void> {
    const total = await this.ledger.addSignatures(id, 1);
    this.totals.set(id, Math.max(this.totals.get(id) ?? 0, total));
    const max = this.max;
    if (!max) return;
    const level = [1, 0.99, 0.95, 0.9].find((f) => total >= Math.floor(max * f));
    if (level !== undefined && !this.warnedAt.has(`${id} ${level}`)) {
      this.warnedAt.add(`${id} ${level}`);
      this.warn(`DAK ${id} has made ${total} of its ${max} allowed signatures${total >= max ? "; it has reached its limit" : ""}`);
    }
  }

  settled(): Promise<unknown> {
    return this.counting;
  }
}

const boardAction = (e: ProvisioningError) => BOARD_ACTIONS[e.board];

/** A board's open attempt: its ledger row, DSN and SMSN. */
interface Attempt {
  id: number;
  port: string;
  dsn: string;
  smsn: string;
  smsnBytes: Uint8Array;
}

/** A board found longer ago than this, or that waited at the gate, is probed again before it gets a DSN. */
const RECHECK_AFTER_MS = 500;

export class Station {
  readonly totals = { provisioned: 0, failed: 0, refused: 0, inFlight: 0, wastedSignatures: 0 };
  readonly perPort = new Map<string, PortTotals>();
  readonly failures: FailedDevice[] = [];
  readonly dak: DakCounter;
  readonly started = performance.now();
  stoppedBy: StopReason = "ports";
  /** Per fixture: boards failed in a row since its last good one, and the last failure. */
  private readonly streaks = new Map<string, { failed: number; last?: string }>();
  /** Fixtures stopped by --max-consecutive-failures. */
  private failureStops = 0;
  private readonly stopper = new AbortController();
  private readonly aborter = new AbortController();
  private changeWaiters: (() => void)[] = [];
  private readonly emit: (event: LineEvent) => void;
  private readonly hsmSerial: number | undefined;
  /** The ledger through the retrier: ledger trouble pauses the line rather than failing boards. */
  private readonly ledger: Ledger;
  private readonly retrier: Retrier;
  /** The signer, telling the DAK counter of each signature and the DAK that made it. */
  private readonly signer: DakSigner;

  constructor(readonly options: LineOptions) {
    if (options.ports.length === 0) throw new UsageError("no fixture ports given", { advice: "give one --port per fixture" });
    const duplicates = options.ports.filter((p, i) => options.ports.indexOf(p) !== i);
    if (duplicates.length) throw new UsageError(`port ${duplicates[0]} is given twice`, { advice: "each fixture needs its own port" });
    this.emit = options.onEvent ?? (() => {});
    const path = options.ledger.path;
    this.retrier = ledgerRetrier(path, {
      onUnavailable: (e) => this.emit({ type: "warning", message: `ledger ${path} unavailable (${e.message}): line paused; no board starts until its attempt is recorded` }),
      onAvailable: (ms) => this.emit({ type: "warning", message: `ledger ${path} available again after ${(ms / 1000).toFixed(1)} s: line resumes` }),
    });
    this.ledger = retryingLedger(options.ledger, this.retrier);
    this.dak = new DakCounter(this.ledger, options.signer, options.maxSignatures, (message) => this.emit({ type: "warning", message }));
    this.hsmSerial = options.signer.hsmSerial;
    this.signer = observeSignatures(options.signer, (curve, s) => this.dak.count(curve, dakIdOf(options.signer.productTag, curve, s.caCerts)));
    for (const p of options.ports) this.perPort.set(p, { provisioned: 0, failed: 0 });
    if (options.signal) this.onAbort(options.signal, () => this.stop("signal"));
    if (options.abortSignal) this.onAbort(options.abortSignal, () => this.abort());
  }

  private onAbort(signal: AbortSignal, f: () => void): void {
    if (signal.aborted) f();
    else signal.addEventListener("abort", f, { once: true });
  }

  /** Starts no new board; the devices in flight finish. */
  stop(why: StopReason): void {
    if (this.stopper.signal.aborted) return;
    this.stoppedBy = why;
    this.stopper.abort();
    if (why === "failures") {
      this.emit({ type: "stopping", reason: why, inFlight: this.totals.inFlight, message: "line stopped: every fixture failed its boards in a row" });
    } else if (why === "signal" || why === "io-error" || why === "hsm-pin") {
      const n = this.totals.inFlight;
      const message = why === "signal" ? `stopping: finishing ${n} device${n === 1 ? "" : "s"} (Ctrl-C again to abort them)` : `line stopped: finishing ${n} device${n === 1 ? "" : "s"} in flight, starting no new one`;
      this.emit({ type: "stopping", reason: why, inFlight: n, message });
    }
    this.changed();
  }

  /** Ends the devices in flight as well (each gets `cert deinit`; the ledger records it). */
  abort(): void {
    this.stop("abort");
    this.stoppedBy = "abort";
    if (!this.aborter.signal.aborted) {
      this.emit({ type: "stopping", reason: "abort", inFlight: this.totals.inFlight, message: `aborting ${this.totals.inFlight} device(s) in flight` });
      this.aborter.abort();
    }
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  private changed(): void {
    for (const w of this.changeWaiters.splice(0)) w();
  }

  private nextChange(): Promise<void> {
    return new Promise((r) => this.changeWaiters.push(r));
  }

  async run(): Promise<LineSummary> {
    const { controlLogDir } = this.options;
    const ledger = this.ledger;
    for (const { attempt, result, controlLog } of await recoverOrphanedAttempts(ledger, controlLogDir)) {
      const what = result === "provisioned" ? `was provisioned (control log ${controlLog}); recorded` : "did not finish; recorded as failed: provision that device again";
      this.emit({ type: "warning", message: `attempt ${attempt.id} (DSN ${attempt.dsn}, port ${attempt.port}, started ${attempt.startedAt}) was cut off when swtool stopped; the device ${what}` });
    }
    // A folder that cannot take a log now would strand the first board's certificates.
    checkControlLogRoom(controlLogDir, this.options.minFreeBytes);
    await this.dak.load();
    this.options.onDakLoaded?.(this.dak.used);
    const fixtures = await this.openFixtures();
    const health = this.options.signer.health;
    // The line waits out HSM trouble (paused, no DSN spent) rather than failing boards.
    if (health) health.patient = true;
    const unsubscribe = health?.onChange(() => this.reportHsm());
    try {
      const results = await Promise.allSettled(fixtures.map((f) => this.worker(f)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed && results.every((r) => r.status === "rejected")) throw failed.reason;
    } finally {
      unsubscribe?.();
      await Promise.all(fixtures.map((f) => f.close()));
      await this.dak.settled();
    }
    return this.summary();
  }

  summary(): LineSummary {
    const seconds = (performance.now() - this.started) / 1000;
    return {
      provisioned: this.totals.provisioned,
      failed: this.totals.failed,
      refused: this.totals.refused,
      signatures: this.dak.made,
      dakUsed: this.dak.used,
      wastedSignatures: this.totals.wastedSignatures,
      seconds,
      devicesPerHour: seconds > 0 ? (this.totals.provisioned * 3600) / seconds : 0,
      stoppedBy: this.stoppedBy,
      perPort: Object.fromEntries(this.perPort),
      failures: this.failures,
    };
  }

  private reportHsm(): void {
    const h = this.options.signer.health;
    if (!h) return;
    const since = h.since ? h.since.toTimeString().slice(0, 8) : undefined;
    const message =
      h.state === "ok" ? "HSM back; line running" : h.state === "unreachable" ? `HSM unreachable since ${since}; line paused` : `HSM has no free session since ${since}; line paused`;
    this.emit({ type: "hsm", state: h.state, ...(h.since ? { since: h.since.toISOString() } : {}), message });
  }

  /** Opens every fixture before the first board; one that cannot be opened stops the start. */
  private async openFixtures(): Promise<FixturePort[]> {
    const { protocol, onTraffic } = this.options;
    const protocolOf = (p: string): CertClientOptions | undefined => (onTraffic ? { ...protocol, onTraffic: (direction, line) => onTraffic(p, direction, line) } : protocol);
    const fixtures = this.options.ports.map((p) => new FixturePort(p, this.options.serial, protocolOf(p), this.options.listPorts));
    const opened = await Promise.allSettled(fixtures.map((f) => f.open()));
    const missing = opened.flatMap((r, i) => (r.status === "rejected" ? [{ port: fixtures[i]!.name, error: r.reason as Error }] : []));
    if (missing.length && !this.options.allowMissingFixtures) {
      await Promise.all(fixtures.map((f) => f.close()));
      const first = missing[0]!;
      throw new UsageError(`cannot open fixture port ${first.port}: ${first.error.message.replace(/^cannot open \S+: /, "")}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ""}`, {
        advice: `${(first.error as SwtoolError).advice ?? "check the port"}; or start without it: --allow-missing-fixtures`,
      });
    }
    for (const m of missing) this.emit({ type: "warning", message: `fixture ${m.port} cannot be opened (${m.error.message}); waiting for it to appear` });
    for (const f of fixtures) if (f.client) this.emit({ type: "port-open", port: f.name });
    return fixtures;
  }

  /** What each fixture last said it waits for: said once, not on every wake-up. */
  private readonly waitingFor = new Map<string, WaitingFor>();

  private waiting(port: string, what: WaitingFor): void {
    if (this.waitingFor.get(port) === what) return;
    this.waitingFor.set(port, what);
    this.emit({ type: "waiting", port, for: what, text: WAITING_TEXT[what] });
  }

  private async worker(fixture: FixturePort): Promise<void> {
    const port = fixture.name;
    const signal = this.stopper.signal;
    const next = {
      presence: this.options.presence,
      onWaiting: (w: WaitingFor) => this.waiting(port, w),
      onRebooted: () => this.emit({ type: "warning", message: `${port}: the finished board rebooted in the fixture (it holds its manufacturing store); it is not provisioned again: take it out` }),
      signal,
    } as const;
    let finished = false;
    try {
      while (!this.stopped) {
        let client: CertClient | undefined;
        let scanned: string | undefined;
        if (this.options.nextDevice === "prompt") {
          if (!this.options.operatorInput) throw new SwtoolError("--next-device prompt needs the operator's input");
          const got = await waitForOperator(fixture, this.options.operatorInput, this.options.dsnScan ?? false, next);
          client = got?.client;
          if (got && this.options.dsnScan) scanned = got.line;
        } else client = await waitForBoard(fixture, finished, next);
        if (!client || this.stopped) break;
        const foundAt = performance.now();
        const gate = await this.gate(port);
        if (gate === "stopped") break;
        // The line may have waited (HSM paused, no --count slot) while the operator took the
        // board out: a DSN taken for it now would be spent on a failed init.
        const stale = gate === "waited" || performance.now() - foundAt > RECHECK_AFTER_MS;
        if (stale && !(await boardStillThere(client, this.options.presence, signal))) {
          this.totals.inFlight--;
          this.changed();
          if (this.stopped) break;
          this.emit({ type: "warning", message: `${port}: the board found before the line waited no longer answers (taken out?); no DSN was spent on it: waiting for a board` });
          finished = false;
          continue;
        }
        try {
          finished = await this.device(port, client, scanned);
        } finally {
          this.totals.inFlight--;
          this.changed();
        }
        if (this.failingFixture(port)) break;
        if (this.options.count !== undefined && this.totals.provisioned >= this.options.count) this.stop("count");
        if (this.options.dsnSource.exhausted && !this.options.dsnScan) this.stop("dsn-source");
      }
    } finally {
      this.emit({ type: "port-closed", port });
    }
  }

  /**
   * True when the fixture has failed --max-consecutive-failures boards in a row: it stops (the
   * board after them would most likely fail the same way), the others go on; when every
   * fixture has stopped so, the line ends.
   */
  private failingFixture(port: string): boolean {
    const max = this.options.maxConsecutiveFailures;
    const streak = this.streaks.get(port);
    if (!max || !streak || streak.failed < max || this.stopped) return false;
    const message = `fixture ${port}: ${streak.failed} boards failed in a row (last: ${streak.last}); check the fixture and firmware, then restart`;
    this.perPort.get(port)!.stopped = message;
    this.emit({ type: "fixture-stopped", port, failures: streak.failed, last: streak.last ?? "", message });
    if (++this.failureStops === this.options.ports.length) this.stop("failures");
    // A fixture waiting for a --count slot this one held may go on.
    this.changed();
    return true;
  }

  /** Waits until a board may start: the HSM can sign and --count leaves room. Says whether it had to wait. */
  private async gate(port: string): Promise<"open" | "waited" | "stopped"> {
    const health = this.options.signer.health;
    for (let waited = false; ; waited = true) {
      if (this.stopped) return "stopped";
      if (health && health.state !== "ok") {
        // No DSN is taken and no board touched while the HSM is away.
        this.waiting(port, "hsm");
        await health.whenReady(this.stopper.signal);
        continue;
      }
      const count = this.options.count;
      if (count !== undefined) {
        if (this.totals.provisioned >= count) {
          this.stop("count");
          return "stopped";
        }
        if (this.totals.provisioned + this.totals.inFlight >= count) {
          // A device in flight may still fail: then this board makes up for it.
          this.waiting(port, "slot");
          await this.nextChange();
          continue;
        }
      }
      this.totals.inFlight++;
      return waited ? "waited" : "open";
    }
  }

  /** Provisions the board in the fixture; false when it was not touched (refused or no DSN). */
  private async device(port: string, client: CertClient, scanned?: string): Promise<boolean> {
    const attempt = await this.beginAttempt(port, scanned);
    if (!attempt) return false;
    this.waitingFor.delete(port);
    this.emit({ type: "device-start", port, dsn: attempt.dsn, smsn: attempt.smsn });
    const t0 = performance.now();
    let result: Awaited<ReturnType<typeof provisionDevice>>;
    try {
      result = await this.provision(client, attempt);
    } catch (e) {
      await this.recordFailure(attempt, e instanceof ProvisioningError ? e : new ProvisioningError("init", (e as Error).message, { cause: e }));
      return true;
    }
    await this.recordProvisioned(attempt, result, t0);
    return true;
  }

  /**
   * Takes the board's DSN (the next of the source, or the scanned one) and opens its attempt
   * in the ledger; undefined when the board is refused (provisioned before, held elsewhere)
   * or the source has run out. A DSN another station holds (in progress there, or provisioned
   * since this one looked) is passed over for the next one of a file or template; a single
   * --dsn or a scan is refused.
   */
  private async beginAttempt(port: string, scanned: string | undefined): Promise<Attempt | undefined> {
    const o = this.options;
    const ledger = this.ledger;
    for (;;) {
      let dsn: string | undefined;
      if (scanned !== undefined) {
        try {
          dsn = validateDsn(scanned);
        } catch (e) {
          this.emit({ type: "refused", port, dsn: scanned, smsn: "", reason: `the scanned line is not a DSN: ${(e as Error).message}` });
          this.totals.refused++;
          return undefined;
        }
      } else dsn = await this.retrier.run(() => o.dsnSource.next());
      if (dsn === undefined) {
        this.stop("dsn-source");
        return undefined;
      }
      const smsnBytes = deviceSmsn({ deviceType: o.deviceType, dsn, apid: o.apid, boardId: o.boardId });
      const smsn = toHex(smsnBytes);
      const base = { port, dsn, smsn, apid: o.apid, stage: o.signer.stage, ...(this.hsmSerial !== undefined ? { hsmSerial: String(this.hsmSerial) } : {}), dak: this.dak.ids.ed25519 };
      const previous = o.allowReprovision ? undefined : await ledger.isProvisioned({ dsn, smsn });
      let reason: string | undefined;
      if (previous) {
        reason = `${previous.dsn === dsn ? `DSN ${dsn}` : `SMSN ${smsn}`} was provisioned on ${previous.finishedAt ?? previous.startedAt} (attempt ${previous.id}, control log ${previous.controlLog ?? "none"})`;
      } else {
        try {
          const id = await ledger.beginAttempt({ ...base, ...(o.allowReprovision ? { reprovision: true } : {}) });
          return { id, port, dsn, smsn, smsnBytes };
        } catch (e) {
          if (!(e instanceof LedgerConflictError)) throw e;
          if (!o.dsnSource.single && scanned === undefined) {
            this.emit({ type: "warning", message: `${e.message}: taking the next DSN` });
            continue;
          }
          reason = e.message;
        }
      }
      this.totals.refused++;
      await ledger.recordAttempt({ ...base, result: "failed", failedStep: "ledger", error: `refused: ${reason}` });
      this.emit({ type: "refused", port, dsn, smsn, reason });
      return undefined;
    }
  }

  /** One device's flow (flow.ts) with the line's settings. */
  private provision(client: CertClient, { port, dsn, smsnBytes }: Attempt): ReturnType<typeof provisionDevice> {
    const o = this.options;
    return provisionDevice(client, {
      signer: this.signer,
      deviceType: o.deviceType,
      dsn,
      smsn: smsnBytes,
      apid: o.apid,
      ...(o.boardId ? { boardId: o.boardId } : {}),
      appServerPublicKey: o.appServerPublicKey,
      controlLogDir: o.controlLogDir,
      ...(o.retries !== undefined ? { retries: o.retries } : {}),
      ...(o.restarts !== undefined ? { restarts: o.restarts } : {}),
      ...(o.minFreeBytes !== undefined ? { minFreeBytes: o.minFreeBytes } : {}),
      signal: this.aborter.signal,
      onStep: (step) => this.emit({ type: "step", port, dsn, step }),
    });
  }

  /** A failed device: its ledger row, the totals and streak, what to do with the board; a station-level failure stops the line. */
  private async recordFailure({ id, port, dsn, smsn }: Attempt, err: ProvisioningError): Promise<void> {
    const o = this.options;
    const answer = err.details.deviceAnswer;
    await this.ledger.finishAttempt(id, {
      result: "failed",
      failedStep: err.step,
      error: err.message,
      ...(answer?.length ? { deviceAnswer: answer.join("\n") } : {}),
      ...(err.code !== undefined ? { errorCode: err.code } : {}),
      ...(err.details.controlLogEntry !== undefined ? { controlLogEntry: err.details.controlLogEntry } : {}),
    });
    this.totals.failed++;
    this.perPort.get(port)!.failed++;
    const streak = this.streaks.get(port) ?? { failed: 0 };
    this.streaks.set(port, { failed: streak.failed + 1, last: err.message.startsWith(`${err.step}: `) ? err.message : `${err.step}: ${err.message}` });
    const wasted = err.details.wastedSignatures ?? 0;
    this.totals.wastedSignatures += wasted;
    const action = boardAction(err);
    this.failures.push({ port, dsn, smsn, step: err.step, error: err.message, action });
    this.emit({
      type: "device-failed", port, dsn, smsn, step: err.step, error: err.message,
      ...(err.advice ? { advice: err.advice } : {}),
      ...(err.code !== undefined ? { code: err.code, codeName: describeSidError(err.code) } : {}),
      ...(answer?.length ? { deviceAnswer: answer } : {}),
      board: err.board, action, wastedSignatures: wasted,
      provisioned: this.totals.provisioned, failed: this.totals.failed, signatures: this.dak.made, dakUsed: this.dak.used,
    });
    if (err.station && err.cause instanceof CredentialsRejectedError) {
      this.emit({ type: "station-error", port, dsn, message: err.message, action, recover: `check the HSM's PIN (it may have been changed), then start the line again with the right one; board DSN ${dsn} holds no certificate and can be provisioned again` });
      this.stop("hsm-pin");
    } else if (err.station) {
      const recover =
        err.board !== "stored-no-log"
          ? `free space in ${o.controlLogDir} (or fix its permissions), then start the line again; the board holds no certificate`
          : err.details.controlLogEntry !== undefined
            ? `free space in ${o.controlLogDir}, then write board DSN ${dsn}'s control log from the ledger (no new signature; the board keeps its identity; until then, do not ship it): ${writeLogCommand(o.commandLine ?? ["swtool"], { dsn, ledger: this.options.ledger.path, controlLogDir: o.controlLogDir })}`
            : `free space in ${o.controlLogDir}, leave board DSN ${dsn} in fixture ${port} (or put it back there) and provision it again, a new identity replacing the stored one (until then, do not ship it): ${o.commandLine ? reprovisionCommand(o.commandLine, { port, dsn }) : `swtool sign with this line's flags --port ${port} --dsn ${dsn} --count 1`}`;
      this.emit({ type: "station-error", port, dsn, message: err.message, action, recover });
      this.stop("io-error");
    }
  }

  /**
   * A provisioned device (its control log written): the ledger says so, waiting as long as it
   * must (never "failed" because the ledger was busy), with the HSM and DAK that signed
   * (several HSMs: known only now; both serials if a failover split the device).
   */
  private async recordProvisioned({ id, port, dsn, smsn }: Attempt, result: Awaited<ReturnType<typeof provisionDevice>>, startedAt: number): Promise<void> {
    const o = this.options;
    const signedBy = [...new Set([result.chains.ed25519.signedBy, result.chains.p256r1.signedBy].filter((x) => x !== undefined))].join(",");
    const dak = dakIdOf(o.signer.productTag, "ed25519", result.chains.ed25519.certs.slice(1));
    await this.ledger.finishAttempt(id, { result: "provisioned", controlLog: result.controlLog, dak, ...(signedBy ? { hsmSerial: signedBy } : {}) });
    await this.ledger.recordControlLog(result.controlLog, result.smsn);
    this.totals.provisioned++;
    this.perPort.get(port)!.provisioned++;
    this.streaks.delete(port);
    this.totals.wastedSignatures += result.wastedSignatures;
    const seconds = (performance.now() - startedAt) / 1000;
    this.emit({
      type: "device-done", port, dsn, smsn, controlLog: result.controlLog, seconds,
      retries: result.retries, restarts: result.restarts, wastedSignatures: result.wastedSignatures,
      provisioned: this.totals.provisioned, failed: this.totals.failed, signatures: this.dak.made, dakUsed: this.dak.used,
      ...(result.deinitError ? { deinitError: result.deinitError } : {}),
    });
  }
}

export function runLine(options: LineOptions): Promise<LineSummary> {
  return new Station(options).run();
}
