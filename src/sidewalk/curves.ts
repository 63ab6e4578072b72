// The two Sidewalk curves as constants over one engine: key and signature sizes, verify, sign.
// Public keys are raw (Ed25519: 32 bytes; P-256: X || Y, 64 bytes, no 0x04 prefix) and
// signatures raw (Ed25519: 64 bytes; P-256: r || s, 64 bytes), as Sidewalk puts them on the wire.
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { FormatError } from "../errors.ts";
import { concat } from "./bytes.ts";

export type Curve = "ed25519" | "p256r1";
export const CURVE_NAMES: readonly Curve[] = ["ed25519", "p256r1"];

export interface CurveParams {
  readonly name: Curve;
  /** Label used in outputs and in Amazon's JSON keys. */
  readonly display: string;
  readonly publicKeyLength: number;
  readonly signatureLength: number;
  readonly privateKeyLength: number;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  sign(message: Uint8Array, privateKey: Uint8Array): Uint8Array;
  publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array;
  randomPrivateKey(): Uint8Array;
  isValidPublicKey(publicKey: Uint8Array): boolean;
}

const P256_PREFIX = new Uint8Array([0x04]);

export const CURVES: Record<Curve, CurveParams> = {
  ed25519: {
    name: "ed25519",
    display: "Ed25519",
    publicKeyLength: 32,
    signatureLength: 64,
    privateKeyLength: 32,
    verify(signature, message, publicKey) {
      try {
        // zip215: false is RFC 8032 strict, the rule the signing tool's OpenSSL applies.
        return ed25519.verify(signature, message, publicKey, { zip215: false });
      } catch {
        return false;
      }
    },
    sign: (message, privateKey) => ed25519.sign(message, privateKey),
    publicKeyFromPrivate: (privateKey) => ed25519.getPublicKey(privateKey),
    randomPrivateKey: () => ed25519.utils.randomSecretKey(),
    isValidPublicKey(publicKey) {
      if (publicKey.length !== 32) return false;
      try {
        ed25519.Point.fromBytes(publicKey);
        return true;
      } catch {
        return false;
      }
    },
  },
  p256r1: {
    name: "p256r1",
    display: "P-256",
    publicKeyLength: 64,
    signatureLength: 64,
    privateKeyLength: 32,
    verify(signature, message, publicKey) {
      try {
        // Devices do not normalise s, so high-S signatures are valid here.
        return p256.verify(signature, message, concat(P256_PREFIX, publicKey), { lowS: false, prehash: true });
      } catch {
        return false;
      }
    },
    sign: (message, privateKey) => p256.sign(message, privateKey, { prehash: true, lowS: false }),
    publicKeyFromPrivate: (privateKey) => p256.getPublicKey(privateKey, false).subarray(1),
    randomPrivateKey: () => p256.utils.randomSecretKey(),
    isValidPublicKey(publicKey) {
      if (publicKey.length !== 64) return false;
      try {
        p256.Point.fromBytes(concat(P256_PREFIX, publicKey)).assertValidity();
        return true;
      } catch {
        return false;
      }
    },
  },
};

export function parseCurve(text: string): Curve {
  const t = text.trim().toLowerCase().replace(/[-_]/g, "");
  if (t === "ed25519" || t === "eddsa") return "ed25519";
  if (t === "p256r1" || t === "p256" || t === "secp256r1" || t === "prime256v1" || t === "ecdsa") return "p256r1";
  throw new FormatError(`unknown curve ${JSON.stringify(text)}`, { advice: "use ed25519 or p256r1" });
}
