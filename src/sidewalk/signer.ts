// Signing a device: the step every flow shares (CLI sign, batch, production line). Takes the
// device's two CSRs, checks them, has the DAK sign each public key with the SMSN, and returns
// both chains only after they verify (and, for production, end at Amazon's root).
import { VerificationError } from "../lib/errors.ts";
import { equal, toHex } from "../lib/bytes.ts";
import { assertChain, type Cert, type Chain, type ChainKind } from "./chain.ts";
import { CURVES, type Curve } from "./curves.ts";
import { verifyCsr, type Csr } from "./csr.ts";
import { issueDeviceChain, type TestPki } from "./pki.ts";
import type { Stage } from "./smsn.ts";

/** What can sign device certificates: the HSM's Sidewalk cert store, or an in-memory test PKI. */
export interface DakSigner {
  readonly productTag: string;
  readonly stage: Stage;
  readonly kind: ChainKind;
  /** The CA certificates above the device, DAK first, root last. */
  caCerts(curve: Curve): readonly Cert[];
  /** A raw signature (64 bytes; P-256 as r || s) by the DAK over `message`. */
  sign(curve: Curve, message: Uint8Array): Promise<Uint8Array>;
  /** Whether chains must end at Amazon's root; when absent, required for the production stage. */
  readonly requireAmazonRoot?: boolean;
  /** The serial number of the HSM that holds the DAK, when an HSM signs (the ledger records it). */
  readonly hsmSerial?: number;
  /** Whether the signer can sign now (an HSM may be unreachable or out of sessions); absent: always. */
  readonly health?: SignerHealth;
  /**
   * Several HSMs: the signature with the CA certificates of the DAK that made it (the HSMs may
   * hold different DAKs of one product) and that HSM's serial. When absent: sign() and caCerts().
   */
  signWithChain?(curve: Curve, message: Uint8Array): Promise<DakSignature>;
}

export interface DakSignature {
  signature: Uint8Array;
  /** DAK first, root last: the chain above the device certificate this signature belongs in. */
  caCerts: readonly Cert[];
  hsmSerial?: string;
}

/** The signer with `onSignature` told of every DAK signature made (which DAK, which HSM). */
export function observeSignatures(signer: DakSigner, onSignature: (curve: Curve, s: DakSignature) => void): DakSigner {
  const signWithChain = async (curve: Curve, message: Uint8Array): Promise<DakSignature> => {
    const s = signer.signWithChain ? await signer.signWithChain(curve, message) : { signature: await signer.sign(curve, message), caCerts: signer.caCerts(curve) };
    onSignature(curve, s);
    return s;
  };
  return Object.assign(Object.create(signer) as DakSigner, {
    signWithChain,
    sign: async (curve: Curve, message: Uint8Array) => (await signWithChain(curve, message)).signature,
  });
}

export type SignerState = "ok" | "unreachable" | "sessions-full";

/** A small status API the station reads to pause and resume the line (the pool owns the waiting). */
export interface SignerHealth {
  readonly state: SignerState;
  /** When the current trouble began. */
  readonly since?: Date;
  /** The last error, in the operator's words. */
  readonly detail?: string;
  /** Called on every change of state; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Resolves once the signer can sign again (probing it meanwhile), or when `signal` aborts. */
  whenReady(signal?: AbortSignal): Promise<void>;
  /** Set by a station: ride out trouble (wait, back off) instead of failing a signature. */
  patient: boolean;
}

/**
 * What a signer may sign, decided once when it is opened: chains must end at Amazon's root
 * (a production tag on a production HSM), or a rehearsal signs a production tag with a test root.
 */
export interface SigningPolicy {
  readonly requireAmazonRoot: boolean;
  /** A production tag signing with a test chain (`--allow-test-root`): devices will not work in the field. */
  readonly rehearsal: boolean;
}

export interface DeviceChains {
  smsn: Uint8Array;
  ed25519: Chain;
  p256r1: Chain;
}

export interface SignDeviceOptions {
  /** The SMSN the PC computed from device type, DSN and APID; the CSRs must carry it. */
  expectedSmsn?: Uint8Array;
  /** Accept CSRs without a proof-of-possession signature (legacy PEM-key flow). */
  allowUnsignedCsr?: boolean;
  /** Require Amazon's production root (default: when the signer's stage is production). */
  requireAmazonRoot?: boolean;
}

function checkCsr(csr: Csr, curve: Curve, allowUnsigned: boolean): void {
  const name = CURVES[curve].display;
  if (csr.curve !== curve) throw new VerificationError(`the ${name} CSR is a ${CURVES[csr.curve].display} CSR`, { advice: "the two CSRs look swapped" });
  if (!CURVES[curve].isValidPublicKey(csr.publicKey)) throw new VerificationError(`the ${name} CSR's public key is not a valid ${name} point`);
  if (csr.signature === undefined) {
    if (!allowUnsigned) throw new VerificationError(`the ${name} CSR has no signature`, { advice: "a device CSR is signed by the device key; ask the device for a fresh CSR" });
    return;
  }
  if (!verifyCsr(csr)) {
    throw new VerificationError(`the ${name} CSR's signature does not verify with its own public key`, {
      advice: "the CSR was corrupted in transfer or copy; ask the device for a fresh CSR",
    });
  }
}

/** Both chains of a device, each settling on its own (a flow may use the first while the HSM makes the second). */
export interface PendingChains {
  smsn: Uint8Array;
  ed25519: Promise<Chain>;
  p256r1: Promise<Chain>;
}

/** Both CSRs of one device, checked (checkDeviceCsrs is the only way to make one). */
export interface CheckedCsrs {
  readonly ed25519: Csr;
  readonly p256r1: Csr;
  readonly smsn: Uint8Array;
  readonly checked: true;
}

/**
 * The one CSR check of every flow: right curves, valid points, signatures that verify (unless
 * the legacy flow's unsigned CSRs are allowed), one SMSN for both, and the SMSN expected.
 * Throws VerificationError naming the problem.
 */
export function checkDeviceCsrs(ed25519Csr: Csr, p256r1Csr: Csr, options: SignDeviceOptions = {}): CheckedCsrs {
  const allowUnsigned = options.allowUnsignedCsr ?? false;
  checkCsr(ed25519Csr, "ed25519", allowUnsigned);
  checkCsr(p256r1Csr, "p256r1", allowUnsigned);
  if (!equal(ed25519Csr.smsn, p256r1Csr.smsn)) {
    throw new VerificationError(`the CSRs name different SMSNs (Ed25519 ${toHex(ed25519Csr.smsn)}, P-256 ${toHex(p256r1Csr.smsn)})`, {
      advice: "both CSRs must come from the same device session",
    });
  }
  const smsn = ed25519Csr.smsn;
  if (options.expectedSmsn && !equal(smsn, options.expectedSmsn)) {
    throw new VerificationError(`the device's SMSN ${toHex(smsn)} is not the SMSN ${toHex(options.expectedSmsn)} computed from device type, DSN and APID`, {
      advice: "check the device type, DSN, APID and stage given to the device",
    });
  }
  return { ed25519: ed25519Csr, p256r1: p256r1Csr, smsn, checked: true };
}

/**
 * Starts both DAK signatures for checked CSRs at once (with a pool of HSM sessions they
 * overlap). Each chain is verified before its promise resolves: a bad chain must never reach a
 * device or a log.
 */
export function startSigningDevice(signer: DakSigner, csrs: CheckedCsrs, options: Pick<SignDeviceOptions, "requireAmazonRoot"> = {}): PendingChains {
  const { smsn } = csrs;
  const requireAmazonRoot = options.requireAmazonRoot ?? signer.requireAmazonRoot ?? signer.stage === "production";
  const sign = async (csr: Csr): Promise<Chain> => {
    let caCerts = signer.caCerts(csr.curve);
    let signedBy: string | undefined;
    const dakSign = signer.signWithChain
      ? async (m: Uint8Array) => {
          const s = await signer.signWithChain!(csr.curve, m);
          caCerts = s.caCerts;
          signedBy = s.hsmSerial;
          return s.signature;
        }
      : (m: Uint8Array) => signer.sign(csr.curve, m);
    const issued = await issueDeviceChain(csr.curve, signer.kind, [], csr.publicKey, smsn, dakSign);
    // The chain of the DAK that signed: with several HSMs known only once one has.
    const chain: Chain = { ...issued, certs: [issued.certs[0]!, ...caCerts], ...(signedBy !== undefined ? { signedBy } : {}) };
    assertChain(chain, { amazonRoot: requireAmazonRoot, smsn, devicePublicKey: csr.publicKey });
    return chain;
  };
  return { smsn, ed25519: sign(csrs.ed25519), p256r1: sign(csrs.p256r1) };
}

/** Checks both CSRs, has the DAK sign both, and returns both chains once both verify. */
export async function signDevice(signer: DakSigner, ed25519Csr: Csr, p256r1Csr: Csr, options: SignDeviceOptions = {}): Promise<DeviceChains> {
  const pending = startSigningDevice(signer, checkDeviceCsrs(ed25519Csr, p256r1Csr, options), options);
  const [ed25519, p256r1] = await Promise.all([pending.ed25519, pending.p256r1]);
  return { smsn: pending.smsn, ed25519, p256r1 };
}

/** A DakSigner over test PKIs held in memory (tests, rehearsal, the demo without an HSM). */
export class MemorySigner implements DakSigner {
  constructor(
    readonly productTag: string,
    readonly stage: Stage,
    private readonly pkis: Record<Curve, TestPki>,
  ) {}
  get kind(): ChainKind {
    return this.pkis.ed25519.kind;
  }
  caCerts(curve: Curve): readonly Cert[] {
    return this.pkis[curve].caCerts;
  }
  async sign(curve: Curve, message: Uint8Array): Promise<Uint8Array> {
    return CURVES[curve].sign(message, this.pkis[curve].privateKeys[0]!);
  }
}
