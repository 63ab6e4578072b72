// Provisioning one device over its `cert` CLI, the CSR-from-device flow of the Sidewalk
// manufacturing guide: init, smsn, csr ed25519, csr p256r1, verify both CSRs (signatures,
// same SMSN, and that SMSN equals the one computed here), sign both with the DAK, verify both
// chains (each before it is written; the Ed25519 chain is written while the HSM makes the
// P-256 signature), write each chain and the application server key in BASE64_MTU pieces, store,
// deinit, and only then write the control log. A failure stops the device (deinit, no log)
// and names the step, the device's answer and its error code.
//
// Retries: a phase whose command timed out, came back garbled, was echoed differently or was
// refused by the shell is resynchronised and run again; a chain or key `write` the device
// refused is resent after restarting that chain; an UNINITIALIZED answer after init means the
// device rebooted, and the whole session starts over (new keys, new signatures). A
// cryptographic mismatch (CSR, SMSN, commit checks, the device's own store verification) is
// never retried.
import { controlLogEntryFor, writeControlLog } from "../controllog/writer.ts";
import { SwtoolError } from "../lib/errors.ts";
import { equal, fromBase64, toBase64, toHex } from "../lib/bytes.ts";
import { computeSmsn, type SmsnInput } from "../sidewalk/smsn.ts";
import { decodeCsr, verifyCsr, type Csr } from "../sidewalk/csr.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";
import { startSigningDevice, type DakSigner, type DeviceChains, type PendingChains } from "../sidewalk/signer.ts";
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
}

export interface DeviceResult {
  smsn: string;
  controlLog: string;
  chains: DeviceChains;
  /** Phases run again after transient faults, and sessions restarted after reboots. */
  retries: number;
  restarts: number;
}

/** A device that could not be provisioned: the step, the device's answer and its code. */
export class ProvisioningError extends SwtoolError {
  constructor(
    readonly step: Step,
    message: string,
    readonly details: { code?: number; deviceAnswer?: string[]; cause?: unknown; advice?: string },
  ) {
    super(message, { ...(details.advice ? { advice: details.advice } : {}), cause: details.cause });
  }
  get code(): number | undefined {
    return this.details.code;
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
  // The firmware refuses a piece it cannot decode (-11) or one too long (-10); the chain
  // buffer is dropped, so the phase restarts with `start`.
  return e.reason === "device-error" && / write /.test(e.command) && (e.code === SID_ERRORS.INVALID_ARGS || e.code === SID_ERRORS.PARAM_OUT_OF_RANGE);
}

function failure(step: Step, e: unknown): ProvisioningError {
  if (e instanceof ProvisioningError) return e;
  if (e instanceof DeviceCommandError) {
    return new ProvisioningError(step, `${step}: ${e.message}`, { ...(e.code === undefined ? {} : { code: e.code }), deviceAnswer: e.details.answer, cause: e, ...(e.advice ? { advice: e.advice } : {}) });
  }
  const err = e as SwtoolError;
  return new ProvisioningError(step, `${step}: ${err.message}`, { cause: e, ...(err.advice ? { advice: err.advice } : {}) });
}

export async function provisionDevice(client: CertClient, job: DeviceJob): Promise<DeviceResult> {
  const retries = job.retries ?? 5;
  const maxRestarts = job.restarts ?? 2;
  const stats = { retries: 0, restarts: 0 };
  const input: SmsnInput = { deviceType: job.deviceType, dsn: job.dsn, apid: job.apid, stage: "production", ...(job.boardId ? { boardId: job.boardId } : {}) };
  // The firmware always hashes `<device type>-PRODUCTION`, whatever the HSM's stage.
  const expectedSmsn = computeSmsn(input);

  const phase = async <T>(step: Step, run: (attempt: number) => Promise<T>): Promise<T> => {
    job.onStep?.(step);
    for (let attempt = 0; ; attempt++) {
      try {
        return await run(attempt);
      } catch (e) {
        if (!(e instanceof DeviceCommandError)) throw failure(step, e);
        if (e.reason === "device-error" && e.code === SID_ERRORS.UNINITIALIZED && step !== "init" && step !== "deinit") throw new DeviceRebooted(e.message);
        if (e.reason === "closed" || !transient(e) || attempt >= retries) throw failure(step, e);
        stats.retries++;
        if (e.reason !== "device-error") await client.resync().catch((r) => Promise.reject(failure(step, r)));
      }
    }
  };

  const readCsr = (curve: Curve) =>
    phase(`csr-${curve}` as Step, async () => {
      const answer = await client.command("cert csr", [curve]);
      try {
        return decodeCsr(fromBase64(answer.pieces.join(""), `${curve} CSR`), curve);
      } catch (e) {
        throw new ProvisioningError(`csr-${curve}` as Step, `csr-${curve}: the device's CSR cannot be read: ${(e as Error).message}`, { deviceAnswer: answer.pieces, cause: e });
      }
    });

  const writeChain = (curve: Curve, chainBytes: Uint8Array) =>
    phase(`chain-${curve}` as Step, async () => {
      await client.command("cert chain start", [curve]);
      for (const piece of pieces(toBase64(chainBytes), client.mtu)) await client.command("cert chain write", [piece]);
      await client.command("cert chain commit");
    });

  const writeAppKey = () =>
    phase("app-key", async (attempt) => {
      await client.command("cert app_key start");
      for (const piece of pieces(toBase64(job.appServerPublicKey), client.mtu)) await client.command("cert app_key write", [piece]);
      try {
        await client.command("cert app_key commit");
      } catch (e) {
        // The key was committed by the earlier run whose OK was lost: the firmware takes it once.
        if (attempt > 0 && e instanceof DeviceCommandError && e.code === SID_ERRORS.INVALID_STATE) return;
        throw e;
      }
    });

  const session = async (): Promise<DeviceChains> => {
    await phase("init", () => client.command("cert init"));
    const smsnAnswer = await phase("smsn", () => client.command("cert smsn", [job.deviceType, job.dsn, job.apid, ...(job.boardId ? [job.boardId] : [])]));
    const deviceSmsn = fromBase64(smsnAnswer.pieces.join(""), "SMSN");
    if (!equal(deviceSmsn, expectedSmsn)) {
      throw new ProvisioningError("smsn", `smsn: the device computed SMSN ${toHex(deviceSmsn)}, not ${toHex(expectedSmsn)} as computed here from device type, DSN and APID`, {
        deviceAnswer: smsnAnswer.pieces,
        advice: "the device's firmware hashes its inputs differently, or the command reached it altered; check the device type and APID",
      });
    }
    const edCsr = await readCsr("ed25519");
    const p256Csr = await readCsr("p256r1");
    job.onStep?.("verify-csr");
    checkCsr(edCsr, expectedSmsn);
    checkCsr(p256Csr, expectedSmsn);
    job.onStep?.("sign");
    let pending: PendingChains;
    try {
      pending = startSigningDevice(job.signer, edCsr, p256Csr, { expectedSmsn });
    } catch (e) {
      throw failure("sign", e);
    }
    // Both signatures settle (and are counted) before the session ends, whatever the device does.
    const settled = Promise.allSettled([pending.ed25519, pending.p256r1]);
    const signed = (chain: Promise<Chain>) => chain.catch((e) => Promise.reject(failure("sign", e)));
    try {
      const ed25519 = await signed(pending.ed25519);
      // The Ed25519 chain goes to the device while the HSM makes the P-256 signature.
      await writeChain("ed25519", encodeChain(ed25519));
      const p256r1 = await signed(pending.p256r1);
      await writeChain("p256r1", encodeChain(p256r1));
      await writeAppKey();
      await phase("store", () => client.command("cert store"));
      return { smsn: pending.smsn, ed25519, p256r1 };
    } finally {
      const [edSigned, p256Signed] = await settled;
      if (edSigned!.status === "fulfilled") job.onSignature?.("ed25519");
      if (p256Signed!.status === "fulfilled") job.onSignature?.("p256r1");
    }
  };

  let chains: DeviceChains;
  try {
    for (;;) {
      try {
        chains = await session();
        break;
      } catch (e) {
        if (!(e instanceof DeviceRebooted)) throw e;
        if (stats.restarts >= maxRestarts) {
          throw new ProvisioningError("init", `the device rebooted during provisioning ${stats.restarts + 1} times (${e.message})`, {
            code: SID_ERRORS.UNINITIALIZED,
            advice: "check the fixture's power and reset lines",
          });
        }
        stats.restarts++;
        await client.resync().catch(() => {});
      }
    }
    await phase("deinit", () => client.command("cert deinit"));
  } catch (e) {
    await cleanUp(client);
    throw failure("init", e);
  }
  job.onStep?.("control-log");
  let controlLog: string;
  try {
    controlLog = await writeControlLog(job.controlLogDir, [controlLogEntryFor(chains, job.apid, LABEL[job.signer.stage])]);
  } catch (e) {
    throw failure("control-log", e);
  }
  return { smsn: toHex(chains.smsn), controlLog, chains, ...stats };
}

function checkCsr(csr: Csr, expectedSmsn: Uint8Array): void {
  const name = CURVES[csr.curve].display;
  if (!verifyCsr(csr)) {
    throw new ProvisioningError("verify-csr", `verify-csr: the device's ${name} CSR signature does not verify with its public key`, {
      advice: "the CSR was altered on the way or the device's crypto is faulty; the device is not provisioned",
    });
  }
  if (!equal(csr.smsn, expectedSmsn)) {
    throw new ProvisioningError("verify-csr", `verify-csr: the ${name} CSR names SMSN ${toHex(csr.smsn)}, not ${toHex(expectedSmsn)}`, {});
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

