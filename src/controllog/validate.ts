// Full validation of control log entries before they go to Amazon: shape, version, SMSN, APID,
// label, base64, both chains parse and every signature verifies, each chain's device serial is
// the entry's serialNumber, both chains are of one layout, and the label matches the root (a
// production entry ends at Amazon's production root, a test or pre-production one does not).
// The CA part of a chain (DAK up to the root) is shared by every device of a product, so its
// verdict is computed once per distinct CA certificates and reused; device signatures go
// through the native verifier (checkAsync: in consolidate's workers, verify-pool.ts, with the
// same verdict and the same first failure named).
import { FormatError, SwtoolError, UsageError, VerificationError } from "../lib/errors.ts";
import { equal, fromBase64, toHex } from "../lib/bytes.ts";
import { decodeChain, roleOf, verifyChain, type Chain, type ChainKind } from "../sidewalk/chain.ts";
import { toBeSigned } from "../sidewalk/csr.ts";
import { CURVES, CURVE_NAMES, type Curve } from "../sidewalk/curves.ts";
import { validateApid } from "../sidewalk/smsn.ts";
import { readEntry, type ControlLogEntry } from "./format.ts";
import { readEntries } from "./stream-entries.ts";

interface CaVerdict {
  /** Why the CA certificates do not verify; undefined when they do. */
  failure?: string;
  amazonRoot: boolean;
  /** The DAK's public key, which signs every device certificate of this CA set. */
  dak: { curve: Curve; publicKey: Uint8Array };
}

/** A device signature being verified, and the error its entry gets when it does not verify. */
interface PendingSignature {
  verdict: Promise<boolean>;
  error: () => VerificationError;
}

/** Distinct CA sets seen in one run are few (one per product and curve); bound it anyway. */
const MAX_CACHED_CA_SETS = 256;

/** Where checkAsync verifies device signatures (verify-pool.ts); flush sends what is queued. */
export interface SignatureVerifier {
  verify(curve: Curve, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean>;
  /** Sends the queued signatures, unless the first `upTo` of them are sent already. */
  flush(upTo?: number): void;
  /** How many signatures were queued so far. */
  readonly queued: number;
}

export class EntryValidator {
  /** `verifier`: where checkAsync verifies device signatures (default: here, at once). */
  constructor(private readonly verifier?: SignatureVerifier) {}

  /** How many signatures checkAsync queued so far (for flush). */
  get queued(): number {
    return this.verifier?.queued ?? 0;
  }

  /** Sends the signatures checkAsync queued (the first `upTo` of them at least): call it before awaiting its promises. */
  flush(upTo?: number): void {
    this.verifier?.flush(upTo);
  }

  private readonly caVerdicts = new Map<string, CaVerdict>();
  /** Per curve, the CA certificates of the last chain and their verdict. */
  private readonly lastVerdict: Partial<Record<Curve, { caBytes: Uint8Array; verdict: CaVerdict }>> = {};

  /** Returns the normalised entry, or throws a FormatError/VerificationError saying what is wrong. */
  check(raw: unknown, index: number): ControlLogEntry {
    return this.run(raw, index);
  }

  /**
   * The same checks and the same verdict as check (the same error for the same entry), with the
   * device signatures verified by the verifier (consolidate: its workers): returns the entry, or a promise of it
   * when signatures are being verified. The checks run in check's order; the verdict is the
   * first failing one in that order, whether a signature or a check after it.
   */
  checkAsync(raw: unknown, index: number): ControlLogEntry | Promise<ControlLogEntry> {
    const pending: PendingSignature[] = [];
    let entry: ControlLogEntry | undefined;
    let failure: unknown;
    try {
      entry = this.run(raw, index, pending);
    } catch (e) {
      if (pending.length === 0) throw e;
      failure = e;
    }
    if (pending.length === 0) return entry!;
    return Promise.all(pending.map((p) => p.verdict)).then((verdicts) => {
      const bad = verdicts.indexOf(false);
      if (bad >= 0) throw pending[bad]!.error();
      if (entry === undefined) throw failure;
      return entry;
    });
  }

  /** `pending`: when given, device signatures are verified asynchronously and the checks after them go on meanwhile. */
  private run(raw: unknown, index: number, pending?: PendingSignature[]): ControlLogEntry {
    const entry = readEntry(raw, index);
    const at = `controlLogs[${index}]`;
    try {
      validateApid(entry.apid);
    } catch (e) {
      throw new FormatError(`control log: ${at}.device.productIdentifier.advertisedProductId: ${(e as Error).message}`);
    }
    const kinds = new Set<ChainKind>();
    for (const curve of CURVE_NAMES) {
      const text = curve === "ed25519" ? entry.ed25519Chain : entry.p256r1Chain;
      const field = `${at} ${CURVES[curve].display} chain`;
      let chain: Chain;
      let data: Uint8Array;
      try {
        data = fromBase64(text, field);
        chain = decodeChain(data, curve);
      } catch (e) {
        throw new FormatError(`control log: ${field}: ${(e as Error).message}`);
      }
      kinds.add(chain.kind);
      this.checkChain(chain, data, entry, field, pending);
    }
    if (kinds.size > 1) throw new VerificationError(`control log: ${at}: one chain is a 6-certificate chain and the other a legacy 4-certificate chain`);
    return entry;
  }

  private checkChain(chain: Chain, data: Uint8Array, entry: ControlLogEntry, field: string, pending?: PendingSignature[]): void {
    const device = chain.certs[0]!;
    const serial = toHex(device.serial);
    if (serial !== entry.serialNumber) {
      throw new VerificationError(`control log: ${field}: device serial ${serial} is not the entry's serialNumber ${entry.serialNumber}`, {
        advice: "the chain belongs to another device; sign this device again",
      });
    }
    const ca = this.caVerdict(chain, data.subarray(device.serial.length + device.publicKey.length + device.signature.length));
    if (ca.failure) throw new VerificationError(`control log: ${field}: ${ca.failure}`);
    const badSignature = () => new VerificationError(`control log: ${field}: signature of certificate 0 (DEVICE) does not verify against ${roleOf(chain.kind, 1)}`);
    const message = toBeSigned(device.publicKey, device.serial);
    if (pending) {
      const verdict = this.verifier ? this.verifier.verify(ca.dak.curve, device.signature, message, ca.dak.publicKey) : Promise.resolve(CURVES[ca.dak.curve].verify(device.signature, message, ca.dak.publicKey));
      pending.push({ verdict, error: badSignature });
    }
    else if (!CURVES[ca.dak.curve].verify(device.signature, message, ca.dak.publicKey)) throw badSignature();
    if (entry.label === "production" && !ca.amazonRoot) {
      throw new VerificationError(`control log: ${field}: label is production but the chain does not end at Amazon's production root`, {
        advice: "test and pre-production devices must not be uploaded as production devices",
      });
    }
    if (entry.label !== "production" && ca.amazonRoot) {
      throw new VerificationError(`control log: ${field}: label is ${entry.label} but the chain ends at Amazon's production root`);
    }
  }

  /** `caBytes`: the encoded CA certificates (the chain after its device certificate). */
  private caVerdict(chain: Chain, caBytes: Uint8Array): CaVerdict {
    // Consecutive entries nearly always share their CA certificates: one comparison of bytes.
    const last = this.lastVerdict[chain.curve];
    if (last && equal(last.caBytes, caBytes)) return last.verdict;
    const caCerts = chain.certs.slice(1);
    const key = chain.curve + Buffer.from(caBytes.buffer, caBytes.byteOffset, caBytes.byteLength).toString("latin1");
    let verdict = this.caVerdicts.get(key);
    if (verdict) {
      this.lastVerdict[chain.curve] = { caBytes: caBytes.slice(), verdict };
      return verdict;
    }
    // The CA certificates verify exactly as in a whole chain: each against the next, the root itself.
    const report = verifyChain({ curve: chain.curve, kind: chain.kind, certs: caCerts });
    verdict = { amazonRoot: report.amazonRoot, dak: { curve: chain.curve, publicKey: caCerts[0]!.publicKey } };
    if (report.firstFailure) {
      const i = report.firstFailure.index + 1;
      const issuer = i === chain.certs.length - 1 ? "itself (root self-signature)" : roleOf(chain.kind, i + 1);
      verdict.failure = `signature of certificate ${i} (${roleOf(chain.kind, i)}, serial ${report.firstFailure.serial}) does not verify against ${issuer}`;
    }
    if (this.caVerdicts.size >= MAX_CACHED_CA_SETS) this.caVerdicts.clear();
    this.caVerdicts.set(key, verdict);
    this.lastVerdict[chain.curve] = { caBytes: caBytes.slice(), verdict };
    return verdict;
  }
}

/**
 * Reads a whole control log file and validates every entry (complete JSON, each entry's shape
 * and both chains), before it leaves the PC; returns how many entries it holds (at least one).
 */
export function checkControlLogFile(path: string): number {
  const validator = new EntryValidator();
  let count = 0;
  const refuse = (reason: string, cause?: unknown) =>
    new FormatError(`refusing to send ${path}: ${reason}`, {
      cause,
      advice: "nothing was sent: consolidate the device logs again (swtool consolidate) and send the new file",
    });
  try {
    readEntries(path, (raw, i) => {
      validator.check(raw, i);
      count++;
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new UsageError(`cannot read ${path}: ${code}`, { cause: e, advice: "give the consolidated control log to send" });
    if (e instanceof SwtoolError) throw refuse(e.message, e);
    throw e;
  }
  if (count === 0) throw refuse('the control log holds no entries ("controlLogs" is empty)');
  return count;
}
