// Provisioning one device over its `cert` CLI, the CSR-from-device flow of the Sidewalk
// manufacturing guide: init, smsn, csr ed25519, csr p256r1, verify both CSRs (signatures,
// same SMSN, and that SMSN equals the one computed here), sign both with the DAK, verify both
// chains (each before it is written; the Ed25519 chain is written while the HSM makes the
// P-256 signature), write each chain and the application server key in BASE64_MTU pieces,
// check that the control-log folder can take the log, store, write the control log at once,
// then deinit. A failure stops the device (deinit, no log) and names the step, the device's
// answer, its error code and what to do with the board.
//
// Recovery by the smallest safe step: a command whose answer was lost or unreadable, or that
// timed out, is resynchronised and its phase run again (a chain or the key restarts with its
// `start`; nothing is signed again); a device error on init or on any chain or key command
// (`start`, `write`, `commit`) is retried the same way; an SMSN or CSR that arrives damaged is
// asked for again (nothing is signed yet). An UNINITIALIZED answer after init means the device
// rebooted: the whole session starts over (new keys, new signatures), and the DAK signatures
// that wasted are counted. The device's own store verification is never retried.
import { accessSync, constants, statfsSync } from "node:fs";
import { controlLogEntryFor, writeControlLog } from "../controllog/writer.ts";
import { entryObject } from "../controllog/format.ts";
import { CredentialsRejectedError, SwtoolError } from "../lib/errors.ts";
import { equal, fromBase64, toBase64, toHex } from "../lib/bytes.ts";
import { computeSmsn } from "../sidewalk/smsn.ts";
import { decodeCsr, verifyCsr, type Csr } from "../sidewalk/csr.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";
import { checkDeviceCsrs, startSigningDevice, type CheckedCsrs, type DakSigner, type DeviceChains, type PendingChains } from "../sidewalk/signer.ts";
import { encodeChain, type Chain } from "../sidewalk/chain.ts";
import { CertClient, DeviceCommandError } from "./protocol/client.ts";
import { SID_ERRORS } from "./protocol/sid-errors.ts";

export const STEPS = ["init", "smsn", "csr-ed25519", "csr-p256r1", "verify-csr", "sign", "chain-ed25519", "chain-p256r1", "app-key", "store", "deinit", "control-log"] as const;
export type Step = (typeof STEPS)[number];

export interface DeviceJob {
  signer: DakSigner;
  deviceType: string;
  dsn: string;
  apid: string;
  /** The SMSN the station computed for this device (deviceSmsn): the device must report the same. */
  smsn: Uint8Array;
  boardId?: string;
  /** The 32-byte Ed25519 application server public key. */
  appServerPublicKey: Uint8Array;
  controlLogDir: string;
  /** Runs of a phase after a transient failure (default 5). */
  retries?: number;
  /** Fresh sessions after the device rebooted mid-way (default 2). */
  restarts?: number;
  onStep?: (step: Step) => void;
  /** Called once per DAK signature made (two per session that reached signing). */
  onSignature?: (curve: Curve) => void;
  /** Free bytes the control-log folder needs before `cert store` (default 1 MiB). */
  minFreeBytes?: number;
  /** The operator aborts: the device stops at the next command (deinit, no log). */
  signal?: AbortSignal;
}

export interface DeviceResult {
  smsn: string;
  controlLog: string;
  chains: DeviceChains;
  /** Phases run again after transient faults, and sessions restarted after reboots. */
  retries: number;
  restarts: number;
  /** DAK signatures made for sessions a reboot threw away. */
  wastedSignatures: number;
  /** `cert deinit` after the log was written did not answer (the device is provisioned). */
  deinitError?: string;
}

/** What a failed device's board holds, and so what the operator does with it. */
export type BoardState = "no-certificate" | "store-unconfirmed" | "stored-no-log";

export const BOARD_ACTIONS: Record<BoardState, string> = {
  "no-certificate": "rework: board holds no certificate",
  "store-unconfirmed": "do not ship: store not confirmed, no control log; provision it again",
  "stored-no-log": "do not ship: certificates stored, no control log",
};

/** A device that could not be provisioned: the step, the device's answer and its code. */
export class ProvisioningError extends SwtoolError {
  constructor(
    readonly step: Step,
    message: string,
    readonly details: {
      code?: number;
      deviceAnswer?: string[];
      cause?: unknown;
      advice?: string;
      board?: BoardState;
      station?: boolean;
      wastedSignatures?: number;
      /** A board that stored its identity without a log: the entry that log should hold (its JSON). */
      controlLogEntry?: string;
    },
  ) {
    super(message, { ...(details.advice ? { advice: details.advice } : {}), cause: details.cause });
  }
  get code(): number | undefined {
    return this.details.code;
  }
  /** What the board holds (default: nothing, it can be provisioned again). */
  get board(): BoardState {
    return this.details.board ?? "no-certificate";
  }
  /** A fault of the station (control-log folder), not of the device: the line must stop. */
  get station(): boolean {
    return this.details.station ?? false;
  }
}

/** Retried damaged content (SMSN, CSR): the device was asked again. */
class DamagedAnswer extends Error {
  constructor(readonly failure: ProvisioningError) {
    super(failure.message);
  }
}

/** Whether the control-log folder is writable and has room; throws a station error otherwise. */
export function checkControlLogRoom(dir: string, minFreeBytes = 1 << 20): void {
  let problem: string | undefined;
  try {
    accessSync(dir, constants.W_OK);
    const fs = statfsSync(dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < minFreeBytes) problem = `only ${free} bytes free (at least ${minFreeBytes} needed)`;
  } catch (e) {
    problem = `${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  if (problem) {
    throw new ProvisioningError("control-log", `control-log: the control-log folder ${dir} cannot take a log: ${problem}`, {
      station: true,
      advice: `free space in ${dir} (or fix its permissions), then start the line again`,
    });
  }
}

class DeviceRebooted extends Error {}

const LABEL = { production: "production", preproduction: "preproduction", test: "test" } as const;

function pieces(text: string, mtu: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += mtu) out.push(text.slice(i, i + mtu));
  return out;
}

/** Whether a failed command may be run again (after resync when the link itself misbehaved). */
function transient(e: DeviceCommandError): boolean {
  if (e.reason === "timeout" || e.reason === "garbled" || e.reason === "echo-mismatch" || e.reason === "rejected") return true;
  // A refused init, chain or key command (a piece it could not decode, a start or commit it
  // read damaged): the buffer is dropped, so the phase restarts with `start`, same chain bytes.
  return e.reason === "device-error" && /^cert (init|chain|app_key)\b/.test(e.command);
}

function failure(step: Step, e: unknown): ProvisioningError {
  if (e instanceof ProvisioningError) return e;
  if (e instanceof DeviceCommandError) {
    return new ProvisioningError(step, `${step}: ${e.message}`, { ...(e.code === undefined ? {} : { code: e.code }), deviceAnswer: e.details.answer, cause: e, ...(e.advice ? { advice: e.advice } : {}) });
  }
  const err = e as SwtoolError;
  // The HSM refused the line's PIN (changed mid-shift?): every later board would fail the same
  // way and each try holds an HSM slot for 30 s, so it stops the line like a station fault.
  const station = e instanceof CredentialsRejectedError ? { station: true } : {};
  return new ProvisioningError(step, `${step}: ${err.message}`, { cause: e, ...station, ...(err.advice ? { advice: err.advice } : {}) });
}

/**
 * The SMSN a device computes for itself, computed once by the station for each device: the
 * firmware always hashes `<device type>-PRODUCTION`, whatever the HSM's stage.
 */
export function deviceSmsn(o: { deviceType: string; dsn: string; apid: string; boardId?: string | undefined }): Uint8Array {
  return computeSmsn({ deviceType: o.deviceType, dsn: o.dsn, apid: o.apid, stage: "production", ...(o.boardId ? { boardId: o.boardId } : {}) });
}

export function provisionDevice(client: CertClient, job: DeviceJob): Promise<DeviceResult> {
  return new DeviceRun(client, job).run();
}

/** One device's provisioning, phase by phase; the recovery rules live in `phase`. */
class DeviceRun {
  private readonly retries: number;
  private readonly stats = { retries: 0, restarts: 0, wastedSignatures: 0 };
  /** What the board may hold if this run fails, for the operator's action. */
  private storeSent = false;
  private stored = false;
  private controlLog: string | undefined;

  constructor(
    private readonly client: CertClient,
    private readonly job: DeviceJob,
  ) {
    this.retries = job.retries ?? 5;
  }

  async run(): Promise<DeviceResult> {
    let chains: DeviceChains;
    try {
      chains = await this.sessionsUntilStored();
    } catch (e) {
      await cleanUp(this.client);
      const err = failure("init", e);
      const board: BoardState = this.stored ? "stored-no-log" : this.storeSent ? "store-unconfirmed" : "no-certificate";
      throw new ProvisioningError(err.step, err.message, { ...err.details, cause: err.details.cause ?? e, board, wastedSignatures: this.stats.wastedSignatures });
    }
    // The device is provisioned (stored, logged); a deinit that gets no answer does not undo that.
    let deinitError: string | undefined;
    try {
      await this.phase("deinit", () => this.client.command("cert deinit"));
    } catch (e) {
      deinitError = (e as Error).message;
    }
    return { smsn: toHex(chains.smsn), controlLog: this.controlLog!, chains, ...this.stats, ...(deinitError ? { deinitError } : {}) };
  }

  /** A reboot mid-way starts the device over (new keys, new signatures), up to `restarts` times. */
  private async sessionsUntilStored(): Promise<DeviceChains> {
    const maxRestarts = this.job.restarts ?? 2;
    for (;;) {
      try {
        return await this.session();
      } catch (e) {
        if (!(e instanceof DeviceRebooted)) throw e;
        if (this.stats.restarts >= maxRestarts) {
          throw new ProvisioningError("init", `the device rebooted during provisioning ${this.stats.restarts + 1} times (${e.message})`, {
            code: SID_ERRORS.UNINITIALIZED,
            advice: "check the fixture's power and reset lines",
          });
        }
        this.stats.restarts++;
        this.storeSent = false;
        await this.client.resync().catch(() => {});
      }
    }
  }

  private aborted(step: Step): ProvisioningError {
    return new ProvisioningError(step, `${step}: aborted by the operator`, {});
  }

  private guard(step: Step): void {
    if (this.job.signal?.aborted) throw this.aborted(step);
  }

  /** Runs a phase, again after a transient failure (see the file's comment for which). */
  private async phase<T>(step: Step, run: (attempt: number) => Promise<T>): Promise<T> {
    this.job.onStep?.(step);
    // A chain is some 30 lines on the wire, so on a noisy line it needs more runs than a single
    // command to get through once; rerunning it costs time, never a signature.
    const retries = step.startsWith("chain-") ? 2 * this.retries : this.retries;
    for (let attempt = 0; ; attempt++) {
      this.guard(step);
      try {
        return await run(attempt);
      } catch (e) {
        if (e instanceof DamagedAnswer) {
          if (attempt >= retries) throw e.failure;
          this.stats.retries++;
          continue;
        }
        if (!(e instanceof DeviceCommandError)) throw failure(step, e);
        if (e.reason === "device-error" && e.code === SID_ERRORS.UNINITIALIZED && step !== "init" && step !== "deinit") throw new DeviceRebooted(e.message);
        if (e.reason === "closed" || !transient(e) || attempt >= retries) throw failure(step, e);
        this.stats.retries++;
        if (e.reason !== "device-error") {
          // A device that stays deaf through the resync (a long silence) gets the next attempt.
          try {
            await this.client.resync();
          } catch (r) {
            if (this.client.isClosed || attempt + 1 >= retries) throw failure(step, r);
          }
        }
      }
    }
  }

  private readSmsn(): Promise<void> {
    const { job, client } = this;
    return this.phase("smsn", async () => {
      const answer = await client.command("cert smsn", [job.deviceType, job.dsn, job.apid, ...(job.boardId ? [job.boardId] : [])]);
      let deviceSmsn: Uint8Array | undefined;
      try {
        deviceSmsn = fromBase64(answer.pieces.join(""), "SMSN");
      } catch {
        // Damaged on the wire; asked again below.
      }
      if (deviceSmsn && equal(deviceSmsn, job.smsn)) return;
      const mismatch = new ProvisioningError("smsn", `smsn: the device computed SMSN ${deviceSmsn ? toHex(deviceSmsn) : JSON.stringify(answer.pieces.join(""))}, not ${toHex(job.smsn)} as computed here from device type, DSN and APID`, {
        deviceAnswer: answer.pieces,
        advice: "the device's firmware hashes its inputs differently, or the command reached it altered; check the device type and APID",
      });
      // Asking again is harmless (it only resets the device's SMSN); a steady mismatch fails.
      throw new DamagedAnswer(mismatch);
    });
  }

  private readCsr(curve: Curve): Promise<Csr> {
    return this.phase(`csr-${curve}` as Step, async () => {
      const answer = await this.client.command("cert csr", [curve]);
      let csr: Csr;
      try {
        csr = decodeCsr(fromBase64(answer.pieces.join(""), `${curve} CSR`), curve);
      } catch (e) {
        throw new DamagedAnswer(new ProvisioningError(`csr-${curve}` as Step, `csr-${curve}: the device's CSR cannot be read: ${(e as Error).message}`, { deviceAnswer: answer.pieces, cause: e }));
      }
      // A CSR damaged on the wire (a flipped character can still be base64) is asked for
      // again: a fresh key pair, nothing is signed yet; a device whose crypto is faulty fails.
      if (csr.signature !== undefined && !verifyCsr(csr)) {
        throw new DamagedAnswer(new ProvisioningError("verify-csr", `verify-csr: the device's ${CURVES[curve].display} CSR signature does not verify with its public key (asked ${this.retries + 1} times)`, { deviceAnswer: answer.pieces, advice: "the device's crypto is faulty or its UART corrupts data; the device is not provisioned" }));
      }
      return csr;
    });
  }

  /** A chain in BASE64_MTU pieces; any trouble restarts it with `start` (the same bytes, never re-signed). */
  private writeChain(curve: Curve, chainBytes: Uint8Array): Promise<void> {
    const step = `chain-${curve}` as Step;
    return this.phase(step, async () => {
      await this.client.command("cert chain start", [curve]);
      for (const piece of pieces(toBase64(chainBytes), this.client.mtu)) {
        this.guard(step);
        await this.client.command("cert chain write", [piece]);
      }
      await this.client.command("cert chain commit");
    });
  }

  private writeAppKey(): Promise<void> {
    const { client } = this;
    // Set when a commit was sent but its answer never read: the device may hold the key.
    let commitUnanswered = false;
    return this.phase("app-key", async () => {
      await client.command("cert app_key start");
      for (const piece of pieces(toBase64(this.job.appServerPublicKey), client.mtu)) await client.command("cert app_key write", [piece]);
      try {
        await client.command("cert app_key commit");
      } catch (e) {
        // The key was committed by the earlier run whose OK was lost: the firmware takes it once.
        if (commitUnanswered && e instanceof DeviceCommandError && e.code === SID_ERRORS.INVALID_STATE) return;
        commitUnanswered = e instanceof DeviceCommandError && e.reason !== "device-error";
        throw e;
      }
    });
  }

  /** Starts both DAK signatures; each is counted as it is made. */
  private sign(edCsr: Csr, p256Csr: Csr): PendingChains {
    const { job } = this;
    job.onStep?.("verify-csr");
    let csrs: CheckedCsrs;
    try {
      csrs = checkDeviceCsrs(edCsr, p256Csr, { expectedSmsn: job.smsn });
    } catch (e) {
      throw failure("verify-csr", e);
    }
    job.onStep?.("sign");
    let pending: PendingChains;
    try {
      pending = startSigningDevice(job.signer, csrs);
    } catch (e) {
      throw failure("sign", e);
    }
    pending.ed25519.then(() => job.onSignature?.("ed25519"), () => {});
    pending.p256r1.then(() => job.onSignature?.("p256r1"), () => {});
    return pending;
  }

  /** A chain once signed; a paused HSM may keep it waiting, the operator's abort does not wait. */
  private signed(chain: Promise<Chain>): Promise<Chain> {
    const result = chain.catch((e) => Promise.reject(failure("sign", e)));
    const signal = this.job.signal;
    if (!signal) return result;
    if (signal.aborted) return Promise.reject(this.aborted("sign"));
    return Promise.race([result, new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(this.aborted("sign")), { once: true }))]);
  }

  /** Checks the folder can take the log, stores, and writes the log at once. */
  private async storeAndLog(chains: DeviceChains): Promise<void> {
    const { job } = this;
    // The log must be writable before the device holds certificates it would lack.
    const entry = controlLogEntryFor(chains, job.apid, LABEL[job.signer.stage]);
    checkControlLogRoom(job.controlLogDir, job.minFreeBytes);
    this.storeSent = true;
    await this.phase("store", () => this.client.command("cert store"));
    this.stored = true;
    job.onStep?.("control-log");
    try {
      this.controlLog = await writeControlLog(job.controlLogDir, [entry]);
    } catch (e) {
      throw new ProvisioningError("control-log", `control-log: ${(e as Error).message}`, {
        cause: e,
        station: true,
        board: "stored-no-log",
        controlLogEntry: JSON.stringify(entryObject(entry)),
        advice: `free space in ${job.controlLogDir} (or fix it), then write its control log from the entry the ledger keeps: \`swtool ledger write-log --dsn ${job.dsn}\` (no new signature)`,
      });
    }
  }

  /** init to control log, once; throws DeviceRebooted when the device lost its state. */
  private async session(): Promise<DeviceChains> {
    await this.phase("init", () => this.client.command("cert init"));
    await this.readSmsn();
    const edCsr = await this.readCsr("ed25519");
    const p256Csr = await this.readCsr("p256r1");
    const pending = this.sign(edCsr, p256Csr);
    // Both signatures settle (and are counted) before the session ends, whatever the device does.
    const settled = Promise.allSettled([pending.ed25519, pending.p256r1]);
    try {
      const ed25519 = await this.signed(pending.ed25519);
      // The Ed25519 chain goes to the device while the HSM makes the P-256 signature.
      await this.writeChain("ed25519", encodeChain(ed25519));
      const p256r1 = await this.signed(pending.p256r1);
      await this.writeChain("p256r1", encodeChain(p256r1));
      await this.writeAppKey();
      const chains = { smsn: pending.smsn, ed25519, p256r1 };
      await this.storeAndLog(chains);
      return chains;
    } catch (e) {
      if (e instanceof DeviceRebooted) {
        const [edSigned, p256Signed] = await settled;
        this.stats.wastedSignatures += Number(edSigned!.status === "fulfilled") + Number(p256Signed!.status === "fulfilled");
      }
      throw e;
    } finally {
      if (!this.job.signal?.aborted) await settled;
    }
  }
}

/** Ends the device's session after a failure; best effort, the original error is what counts. */
async function cleanUp(client: CertClient): Promise<void> {
  if (client.isClosed) return;
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      await client.resync();
      await client.command("cert deinit");
      return;
    } catch {
      // Try again; a silent device gets the resync's own retries.
    }
  }
}

