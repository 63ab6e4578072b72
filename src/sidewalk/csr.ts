// Sidewalk device CSR: publicKey || SMSN [|| signature], the signature by the device key over
// publicKey || SMSN (proof of possession). Ed25519: 32+32[+64]; P-256: 64+32[+64] bytes.
import { FormatError } from "../lib/errors.ts";
import { bytes, concat, fromBase64, Reader } from "../lib/bytes.ts";
import { CURVES, CURVE_NAMES, type Curve } from "./curves.ts";
import { SMSN_LENGTH } from "./smsn.ts";

export interface Csr {
  curve: Curve;
  publicKey: Uint8Array;
  smsn: Uint8Array;
  /** Absent in the legacy flow, where the PC builds the CSR from a key file. */
  signature?: Uint8Array;
}

/** "an Ed25519" / "a P-256". */
const withArticle = (curve: Curve) => `${curve === "ed25519" ? "an" : "a"} ${CURVES[curve].display}`;

function csrLengths(curve: Curve): { unsigned: number; signed: number } {
  const c = CURVES[curve];
  const unsigned = c.publicKeyLength + SMSN_LENGTH;
  return { unsigned, signed: unsigned + c.signatureLength };
}

/** The curve a CSR of this length belongs to; the four lengths are distinct. */
export function csrCurveFromLength(length: number): Curve | undefined {
  return CURVE_NAMES.find((c) => {
    const l = csrLengths(c);
    return length === l.signed || length === l.unsigned;
  });
}

export function decodeCsr(data: Uint8Array, curve?: Curve): Csr {
  bytes(data, undefined, "csr");
  const expected = curve ?? csrCurveFromLength(data.length);
  if (!expected) {
    throw new FormatError(
      `csr.decode: ${data.length} bytes is not a CSR length (Ed25519: 128 or 64, P-256: 160 or 96)`,
      { advice: "the CSR was probably cut short when copied; copy the whole base64 text again" },
    );
  }
  const lengths = csrLengths(expected);
  if (data.length !== lengths.signed && data.length !== lengths.unsigned) {
    const other = csrCurveFromLength(data.length);
    throw new FormatError(
      `csr.decode: ${data.length} bytes is not ${withArticle(expected)} CSR (expected ${lengths.signed}, or ${lengths.unsigned} unsigned)` +
        (other ? `; it has the length of ${withArticle(other)} CSR` : ""),
      { advice: other ? "the Ed25519 and P-256 CSRs look swapped" : "copy the whole base64 text again" },
    );
  }
  const r = new Reader(data, "csr.decode");
  const publicKey = r.take(CURVES[expected].publicKeyLength, "public key");
  const smsn = r.take(SMSN_LENGTH, "SMSN");
  const csr: Csr = { curve: expected, publicKey, smsn };
  if (r.remaining) csr.signature = r.take(CURVES[expected].signatureLength, "signature");
  r.end();
  return csr;
}

export function decodeCsrBase64(text: string, curve?: Curve, field = "CSR"): Csr {
  return decodeCsr(fromBase64(text, field), curve);
}

export function encodeCsr(csr: Csr): Uint8Array {
  const c = CURVES[csr.curve];
  const parts = [bytes(csr.publicKey, c.publicKeyLength, "publicKey"), bytes(csr.smsn, SMSN_LENGTH, "smsn")];
  if (csr.signature) parts.push(bytes(csr.signature, c.signatureLength, "signature"));
  return concat(...parts);
}

/** The bytes the device signs in its CSR and the DAK signs in the device certificate. */
export function toBeSigned(publicKey: Uint8Array, serial: Uint8Array): Uint8Array {
  return concat(publicKey, serial);
}

/** True when the proof-of-possession signature verifies; false when it does not or is absent. */
export function verifyCsr(csr: Csr): boolean {
  if (!csr.signature) return false;
  return CURVES[csr.curve].verify(csr.signature, toBeSigned(csr.publicKey, csr.smsn), csr.publicKey);
}

/** A CSR made on the PC (device simulator, tests): signs publicKey || SMSN with the device key. */
export function makeCsr(curve: Curve, privateKey: Uint8Array, smsn: Uint8Array): Csr {
  const c = CURVES[curve];
  const publicKey = c.publicKeyFromPrivate(privateKey);
  return { curve, publicKey, smsn, signature: c.sign(toBeSigned(publicKey, smsn), privateKey) };
}
