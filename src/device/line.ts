// A production station: one worker per fixture port, all sharing one DakSigner (the HSM
// session pool), the DSN source and the ledger. Each worker provisions the device in its
// fixture, then waits for the operator to put in the next one (a fresh boot banner), until
// `count` good devices are done, the DSN source runs out, or `signal` aborts (Ctrl-C), which
// lets devices in flight finish and starts no new ones.
import { SwtoolError } from "../lib/errors.ts";
import { LedgerConflictError, type Ledger } from "../ledger/ledger.ts";
import { ledgerRetrier, retryingLedger } from "../ledger/retry.ts";
import { recoverOrphanedAttempts } from "./recover.ts";
import { toHex } from "../lib/bytes.ts";
import { CURVE_NAMES, type Curve } from "../sidewalk/curves.ts";
import type { DakSigner } from "../sidewalk/signer.ts";
import { computeSmsn } from "../sidewalk/smsn.ts";
import type { DsnSource } from "./dsn.ts";
import { provisionDevice, ProvisioningError, type Step } from "./flow.ts";
import { openDeviceLink, type SerialSettings } from "../transport/open.ts";
import { CertClient, type CertClientOptions } from "./protocol/client.ts";
import { describeSidError } from "./protocol/sid-errors.ts";
import { sleep } from "../lib/sleep.ts";

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
  /** The DAK's MaxAllowedSignature from the device profile: warn when it comes near. */
  maxSignatures?: number;
  /** Abort = Ctrl-C: finish the devices in flight, start no new ones. */
  signal?: AbortSignal;
  /** How often an empty fixture is probed for a first device (default 1000 ms). */
  probeIntervalMs?: number;
  onEvent?: (event: LineEvent) => void;
}

export type LineEvent =
  | { type: "port-open"; port: string }
  | { type: "waiting"; port: string }
  | { type: "device-start"; port: string; dsn: string; smsn: string }
  | { type: "step"; port: string; dsn: string; step: Step }
  | { type: "device-done"; port: string; dsn: string; smsn: string; controlLog: string; seconds: number; retries: number; restarts: number; wastedSignatures: number; provisioned: number; failed: number }
  | { type: "device-failed"; port: string; dsn: string; smsn: string; step: Step; error: string; code?: number; codeName?: string; deviceAnswer?: string[]; provisioned: number; failed: number }
  | { type: "refused"; port: string; dsn: string; smsn: string; reason: string }
  | { type: "warning"; message: string }
  | { type: "port-closed"; port: string; error?: string };

export interface LineSummary {
  provisioned: number;
  failed: number;
  refused: number;
  /** DAK signatures made, and those a reboot threw away. */
  signatures: number;
  wastedSignatures: number;
  seconds: number;
  /** Good devices per hour over the run. */
  devicesPerHour: number;
  stoppedBy: "count" | "signal" | "dsn-source" | "ports";
}

export async function runLine(options: LineOptions): Promise<LineSummary> {
  if (options.ports.length === 0) throw new SwtoolError("no fixture ports given", { advice: "give one --port per fixture" });
  const duplicates = options.ports.filter((p, i) => options.ports.indexOf(p) !== i);
  if (duplicates.length) throw new SwtoolError(`port ${duplicates[0]} is given twice`, { advice: "each fixture needs its own port" });
  const emit = options.onEvent ?? (() => {});
  // Ledger trouble pauses the line rather than failing boards: every call waits until it is written.
  const retrier = ledgerRetrier(options.ledger.path, {
    onUnavailable: (e) => emit({ type: "warning", message: `ledger ${options.ledger.path} unavailable (${e.message}): line paused; no board starts until its attempt is recorded` }),
    onAvailable: (ms) => emit({ type: "warning", message: `ledger ${options.ledger.path} available again after ${(ms / 1000).toFixed(1)} s: line resumes` }),
  });
  const ledger = retryingLedger(options.ledger, retrier);
  for (const { attempt, result, controlLog } of await recoverOrphanedAttempts(ledger, options.controlLogDir)) {
    const what = result === "provisioned" ? `was provisioned (control log ${controlLog}); recorded` : "did not finish; recorded as failed: provision that device again";
    emit({ type: "warning", message: `attempt ${attempt.id} (DSN ${attempt.dsn}, port ${attempt.port}, started ${attempt.startedAt}) was cut off when swtool stopped; the device ${what}` });
  }
  const started = performance.now();
  const totals = { provisioned: 0, failed: 0, refused: 0, inFlight: 0, signatures: 0, wastedSignatures: 0 };
  let stoppedBy: LineSummary["stoppedBy"] = "ports";
  const stop = new AbortController();
  const stopAll = (why: LineSummary["stoppedBy"]) => {
    if (!stop.signal.aborted) {
      stoppedBy = why;
      stop.abort();
    }
  };
  if (options.signal) {
    if (options.signal.aborted) stopAll("signal");
    options.signal.addEventListener("abort", () => stopAll("signal"));
  }
  const hsmSerial = options.signer.hsmSerial;
  const dakIds = Object.fromEntries(CURVE_NAMES.map((c) => [c, `${options.signer.productTag}/${c}/${toHex(options.signer.caCerts(c)[0]!.serial)}`]));
  const warnedAt = new Set<number>();
  // Signature counts go to the ledger in order, without holding up the device.
  let counting: Promise<unknown> = Promise.resolve();

  const countSignature = async (curve: Curve) => {
    const total = await ledger.addSignatures(dakIds[curve]!, 1);
    const max = options.maxSignatures;
    if (!max) return;
    const level = [1, 0.99, 0.95, 0.9].find((f) => total >= Math.floor(max * f));
    if (level !== undefined && !warnedAt.has(level)) {
      warnedAt.add(level);
      emit({ type: "warning", message: `DAK ${dakIds[curve]} has made ${total} of its ${max} allowed signatures${total >= max ? "; it has reached its limit" : ""}` });
    }
  };

  /** Reserves a device slot under --count; false when enough are done or in flight. */
  const reserve = (): boolean => {
    if (options.count !== undefined && totals.provisioned + totals.inFlight >= options.count) return false;
    totals.inFlight++;
    return true;
  };

  const worker = async (port: string) => {
    let client: CertClient;
    try {
      client = new CertClient(await openDeviceLink(port, options.serial), options.protocol);
    } catch (e) {
      emit({ type: "port-closed", port, error: (e as Error).message });
      throw e;
    }
    emit({ type: "port-open", port });
    let mark: number | undefined;
    try {
      while (!stop.signal.aborted && !client.isClosed) {
        emit({ type: "waiting", port });
        if (mark === undefined) {
          // First device: whatever is in the fixture now, once it answers.
          try {
            await client.resync();
          } catch {
            await sleep(options.probeIntervalMs ?? 1000, stop.signal);
            continue;
          }
        } else if (!(await client.waitForBoot(mark, stop.signal))) break;
        if (stop.signal.aborted) break;
        if (!reserve()) {
          stopAll("count");
          break;
        }
        let deviceTouched = false;
        try {
          deviceTouched = await oneDevice(port, client);
        } finally {
          totals.inFlight--;
        }
        if (options.count !== undefined && totals.provisioned >= options.count) stopAll("count");
        if (options.dsnSource.exhausted) stopAll("dsn-source");
        if (deviceTouched) mark = client.answerMark;
      }
    } finally {
      await client.link.close().catch(() => {});
      emit({ type: "port-closed", port });
    }
  };

  /** Provisions the device in the fixture; false when it was not touched (refused DSN). */
  const oneDevice = async (port: string, client: CertClient): Promise<boolean> => {
    const stage = options.signer.stage;
    let dsn: string | undefined;
    let smsn: string;
    let base: Parameters<Ledger["beginAttempt"]>[0];
    let id: number;
    // A DSN another station holds (in progress there, or provisioned since this one looked) is
    // passed over for the next one of a file or template; a single --dsn is refused.
    for (;;) {
      dsn = await retrier.run(() => options.dsnSource.next());
      if (dsn === undefined) {
        stopAll("dsn-source");
        return false;
      }
      smsn = toHex(computeSmsn({ deviceType: options.deviceType, dsn, apid: options.apid, stage: "production", ...(options.boardId ? { boardId: options.boardId } : {}) }));
      base = { port, dsn, smsn, apid: options.apid, stage, ...(hsmSerial !== undefined ? { hsmSerial: String(hsmSerial) } : {}), dak: dakIds.ed25519! };
      const previous = options.allowReprovision ? undefined : await ledger.isProvisioned({ dsn, smsn });
      let reason: string | undefined;
      if (previous) {
        reason = `${previous.dsn === dsn ? `DSN ${dsn}` : `SMSN ${smsn}`} was provisioned on ${previous.finishedAt ?? previous.startedAt} (attempt ${previous.id}, control log ${previous.controlLog ?? "none"})`;
      } else {
        try {
          id = await ledger.beginAttempt({ ...base, ...(options.allowReprovision ? { reprovision: true } : {}) });
          break;
        } catch (e) {
          if (!(e instanceof LedgerConflictError)) throw e;
          if (!options.dsnSource.single) {
            emit({ type: "warning", message: `${e.message}: taking the next DSN` });
            continue;
          }
          reason = e.message;
        }
      }
      totals.refused++;
      await ledger.recordAttempt({ ...base, result: "failed", failedStep: "ledger", error: `refused: ${reason}` });
      emit({ type: "refused", port, dsn, smsn, reason });
      return false;
    }
    emit({ type: "device-start", port, dsn, smsn });
    const t0 = performance.now();
    let result: Awaited<ReturnType<typeof provisionDevice>>;
    try {
      result = await provisionDevice(client, {
        signer: options.signer,
        deviceType: options.deviceType,
        dsn,
        apid: options.apid,
        ...(options.boardId ? { boardId: options.boardId } : {}),
        appServerPublicKey: options.appServerPublicKey,
        controlLogDir: options.controlLogDir,
        ...(options.retries !== undefined ? { retries: options.retries } : {}),
        ...(options.restarts !== undefined ? { restarts: options.restarts } : {}),
        onStep: (step) => emit({ type: "step", port, dsn, step }),
        onSignature: (curve) => {
          totals.signatures++;
          counting = counting.then(() => countSignature(curve)).catch((e) => emit({ type: "warning", message: `DAK signature count not recorded: ${(e as Error).message}` }));
        },
      });
    } catch (e) {
      const err = e instanceof ProvisioningError ? e : new ProvisioningError("init", (e as Error).message, { cause: e });
      const answer = err.details.deviceAnswer;
      await ledger.finishAttempt(id!, {
        result: "failed",
        failedStep: err.step,
        error: err.message,
        ...(answer?.length ? { deviceAnswer: answer.join("\n") } : {}),
        ...(err.code !== undefined ? { errorCode: err.code } : {}),
      });
      totals.failed++;
      emit({
        type: "device-failed",
        port,
        dsn,
        smsn,
        step: err.step,
        error: err.message,
        ...(err.code !== undefined ? { code: err.code, codeName: describeSidError(err.code) } : {}),
        ...(answer?.length ? { deviceAnswer: answer } : {}),
        provisioned: totals.provisioned,
        failed: totals.failed,
      });
      return true;
    }
    // The board is provisioned and its control log written: the ledger says so, waiting as long
    // as it must (never "failed" because the ledger was busy).
    await ledger.finishAttempt(id!, { result: "provisioned", controlLog: result.controlLog });
    await ledger.recordControlLog(result.controlLog, result.smsn);
    totals.provisioned++;
    totals.wastedSignatures += result.wastedSignatures;
    const seconds = (performance.now() - t0) / 1000;
    emit({ type: "device-done", port, dsn, smsn, controlLog: result.controlLog, seconds, retries: result.retries, restarts: result.restarts, wastedSignatures: result.wastedSignatures, provisioned: totals.provisioned, failed: totals.failed });
    return true;
  };

  const results = await Promise.allSettled(options.ports.map((p) => worker(p)));
  await counting;
  const seconds = (performance.now() - started) / 1000;
  const failedPort = results.find((r) => r.status === "rejected");
  if (failedPort && results.every((r) => r.status === "rejected")) throw (failedPort as PromiseRejectedResult).reason;
  return {
    provisioned: totals.provisioned,
    failed: totals.failed,
    refused: totals.refused,
    signatures: totals.signatures,
    wastedSignatures: totals.wastedSignatures,
    seconds,
    devicesPerHour: seconds > 0 ? (totals.provisioned * 3600) / seconds : 0,
    stoppedBy,
  };
}
