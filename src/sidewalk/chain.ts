// Sidewalk certificate chains: one codec for both curves. Each certificate is
// serial || publicKey || signature; the wire order is device first, root last. The device
// serial is the 32-byte SMSN; CA serials are 4 bytes unless serial expansion says otherwise
// (rule of Amazon's signing tool, the producer of chains). Each signature is the issuer's
// (next certificate up) over publicKey || serial; the root signs itself.
import { FormatError, VerificationError } from "../lib/errors.ts";
import { bytes, concat, equal, fromBase64, Reader, toHex } from "../lib/bytes.ts";
import { CURVES, CURVE_NAMES, type Curve } from "./curves.ts";
import { toBeSigned } from "./csr.ts";
import { AMAZON_PRODUCTION_ROOT } from "./roots.ts";
import { SMSN_LENGTH } from "./smsn.ts";

export interface Cert {
  serial: Uint8Array;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

export type ChainKind = "sidewalk" | "legacy";

/** Roles in wire order (device first). */
export const CHAIN_ROLES: Record<ChainKind, readonly string[]> = {
  sidewalk: ["DEVICE", "DAK", "PRODUCT", "MANUFACTURER", "SIDEWALK", "AMAZON ROOT"],
  legacy: ["DEVICE", "MODEL", "MANUFACTURER", "AMAZON ROOT"],
};

export interface Chain {
  curve: Curve;
  kind: ChainKind;
  /** Device first, root last. */
  certs: Cert[];
  /** The HSM (serial) whose DAK signed the device certificate, when known (not encoded). */
  signedBy?: string;
}

const CA_SERIAL_LENGTH = 4;
const MAX_CA_CERTS = 5;

/**
 * Length of a CA serial from its first 4 bytes read little-endian: when the top nibble is 0xB
 * serial expansion is on and the length is ((sn >> 16) & 0x7F) + 2.
 */
export function caSerialLength(first4: Uint8Array): number {
  bytes(first4, CA_SERIAL_LENGTH, "serial prefix");
  const sn = (first4[0]! | (first4[1]! << 8) | (first4[2]! << 16) | (first4[3]! << 24)) >>> 0;
  if ((sn & 0xf0000000) >>> 0 === 0xb0000000) return ((sn >>> 16) & 0x7f) + 2;
  return CA_SERIAL_LENGTH;
}

function kindFromCount(count: number): ChainKind | undefined {
  if (count === CHAIN_ROLES.sidewalk.length) return "sidewalk";
  if (count === CHAIN_ROLES.legacy.length) return "legacy";
  return undefined;
}

export function roleOf(kind: ChainKind, index: number): string {
  return CHAIN_ROLES[kind][index] ?? `certificate ${index}`;
}

/** Parses a chain of the given curve; canonical input only. */
export function decodeChain(data: Uint8Array, curve: Curve): Chain {
  bytes(data, undefined, "chain");
  const c = CURVES[curve];
  const r = new Reader(data, `chain.decode(${curve})`);
  const certs: Cert[] = [];
  const readCert = (role: string, serialLength: number): Cert => ({
    serial: r.take(serialLength, `serial of ${role}`),
    publicKey: r.take(c.publicKeyLength, `public key of ${role}`),
    signature: r.take(c.signatureLength, `signature of ${role}`),
  });
  certs.push(readCert("DEVICE", SMSN_LENGTH));
  while (r.remaining > 0) {
    if (certs.length > MAX_CA_CERTS) {
      throw new FormatError(`chain.decode(${curve}): more than ${MAX_CA_CERTS + 1} certificates (${r.remaining} bytes left over)`);
    }
    const role = certs.length === 5 ? "AMAZON ROOT" : (CHAIN_ROLES.sidewalk[certs.length] ?? "CA");
    const serialLength = caSerialLength(r.peek(CA_SERIAL_LENGTH, `serial of ${role}`));
    if (serialLength < CA_SERIAL_LENGTH) {
      throw new FormatError(`chain.decode(${curve}): serial of ${role} declares ${serialLength} bytes; at least 4 are needed`);
    }
    certs.push(readCert(role, serialLength));
  }
  r.end();
  const kind = kindFromCount(certs.length);
  if (!kind) {
    throw new FormatError(
      `chain.decode(${curve}): ${certs.length} certificates; a Sidewalk chain has 6 (or 4 in the legacy layout)`,
      { advice: "the chain is truncated or is not a chain of this curve" },
    );
  }
  return { curve, kind, certs };
}

export function encodeChain(chain: Chain): Uint8Array {
  const c = CURVES[chain.curve];
  const parts: Uint8Array[] = [];
  chain.certs.forEach((cert, i) => {
    const role = roleOf(chain.kind, i);
    const serialLength = i === 0 ? SMSN_LENGTH : caSerialLength(bytes(cert.serial, undefined, `${role}.serial`).subarray(0, 4));
    parts.push(
      bytes(cert.serial, serialLength, `${role}.serial`),
      bytes(cert.publicKey, c.publicKeyLength, `${role}.publicKey`),
      bytes(cert.signature, c.signatureLength, `${role}.signature`),
    );
  });
  if (!kindFromCount(chain.certs.length)) throw new FormatError(`chain.encode: ${chain.certs.length} certificates; expected 6 or 4`);
  return concat(...parts);
}

/**
 * Parses a chain whose curve is not known (a bare base64 chain). When the bytes parse under
 * both curves, the one whose signatures verify wins.
 */
export function decodeChainAnyCurve(data: Uint8Array): Chain {
  const parsed: Chain[] = [];
  const errors: string[] = [];
  for (const curve of CURVE_NAMES) {
    try {
      parsed.push(decodeChain(data, curve));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (parsed.length === 1) return parsed[0]!;
  if (parsed.length === 0) {
    throw new FormatError(`chain.decode: ${data.length} bytes is neither an Ed25519 nor a P-256 chain (${errors.join("; ")})`, {
      advice: "a 6-certificate chain is 628 bytes (Ed25519) or 820 bytes (P-256) without serial expansion",
    });
  }
  const verifying = parsed.filter((c) => verifyChain(c).ok);
  if (verifying.length === 1) return verifying[0]!;
  throw new FormatError(`chain.decode: ${data.length} bytes parse as both an Ed25519 and a P-256 chain`, {
    advice: "say which curve it is",
  });
}

export function decodeChainBase64(text: string, curve?: Curve, field = "chain"): Chain {
  const data = fromBase64(text, field);
  return curve ? decodeChain(data, curve) : decodeChainAnyCurve(data);
}

export interface CertReport {
  index: number;
  role: string;
  serial: string;
  publicKey: string;
  signatureOk: boolean;
}

export interface ChainReport {
  curve: Curve;
  kind: ChainKind;
  certs: CertReport[];
  /** Every signature verifies, including the root's self-signature. */
  ok: boolean;
  /** The root is Amazon's production root for this curve (serial and key). */
  amazonRoot: boolean;
  firstFailure?: CertReport;
}

export function isAmazonRoot(curve: Curve, root: Cert): boolean {
  const pinned = AMAZON_PRODUCTION_ROOT[curve];
  return equal(root.serial, pinned.serial) && equal(root.publicKey, pinned.publicKey);
}

/** Verifies every certificate against its issuer (the root against itself). */
export function verifyChain(chain: Chain): ChainReport {
  const c = CURVES[chain.curve];
  const certs = chain.certs.map((cert, index): CertReport => {
    const issuer = chain.certs[index + 1] ?? cert;
    return {
      index,
      role: roleOf(chain.kind, index),
      serial: toHex(cert.serial),
      publicKey: toHex(cert.publicKey),
      signatureOk: c.verify(cert.signature, toBeSigned(cert.publicKey, cert.serial), issuer.publicKey),
    };
  });
  const firstFailure = certs.find((r) => !r.signatureOk);
  const root = chain.certs[chain.certs.length - 1]!;
  const report: ChainReport = {
    curve: chain.curve,
    kind: chain.kind,
    certs,
    ok: !firstFailure,
    amazonRoot: isAmazonRoot(chain.curve, root),
  };
  if (firstFailure) report.firstFailure = firstFailure;
  return report;
}

export interface ChainExpectations {
  /** Require Amazon's production root. */
  amazonRoot?: boolean;
  /** The device serial (SMSN) the chain must carry. */
  smsn?: Uint8Array;
  /** The device public key the chain must certify. */
  devicePublicKey?: Uint8Array;
}

/** Throws a VerificationError naming the first problem; returns the report when all is well. */
export function assertChain(chain: Chain, expect: ChainExpectations = {}): ChainReport {
  const report = verifyChain(chain);
  const name = CURVES[chain.curve].display;
  if (report.firstFailure) {
    const f = report.firstFailure;
    const issuer = f.index === chain.certs.length - 1 ? "itself (root self-signature)" : roleOf(chain.kind, f.index + 1);
    throw new VerificationError(
      `${name} chain: signature of certificate ${f.index} (${f.role}, serial ${f.serial}) does not verify against ${issuer}`,
    );
  }
  if (expect.amazonRoot && !report.amazonRoot) {
    const root = chain.certs[chain.certs.length - 1]!;
    throw new VerificationError(
      `${name} chain verifies but ends at root serial ${toHex(root.serial)}, not Amazon's production root (serial ${toHex(AMAZON_PRODUCTION_ROOT[chain.curve].serial)})`,
      { advice: "this is a test or pre-production chain; it is not valid for production devices" },
    );
  }
  const device = chain.certs[0]!;
  if (expect.smsn && !equal(device.serial, expect.smsn)) {
    throw new VerificationError(`${name} chain: device serial ${toHex(device.serial)} is not the SMSN ${toHex(expect.smsn)}`);
  }
  if (expect.devicePublicKey && !equal(device.publicKey, expect.devicePublicKey)) {
    throw new VerificationError(`${name} chain: device public key is not the key of the CSR`);
  }
  return report;
}
