// The two Sidewalk curves as constants over one engine: key and signature sizes, verify, sign.
// Public keys are raw (Ed25519: 32 bytes; P-256: X || Y, 64 bytes, no 0x04 prefix) and
// signatures raw (Ed25519: 64 bytes; P-256: r || s, 64 bytes), as Sidewalk puts them on the wire.
import { createPublicKey, verify as nativeVerify, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { FormatError } from "../lib/errors.ts";
import { concat, equal } from "../lib/bytes.ts";

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

// Verification runs on the runtime's native crypto (BoringSSL under Bun): about 0.04 ms per
// signature against 0.5-0.8 ms for @noble/curves, and no JIT warm-up in a one-shot process
// (bench/sign.ts). Keys are imported once; CA keys recur for every device, so they are cached.
const KEY_CACHE_LIMIT = 256;
const keyCache = new Map<string, KeyObject | null>();
const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");

/** Per curve, the last key asked for (a DAK's, for every device of a run): one comparison of bytes. */
const lastKey: Partial<Record<Curve, { publicKey: Uint8Array; key: KeyObject | null }>> = {};

function nativeKey(curve: Curve, publicKey: Uint8Array): KeyObject | null {
  const last = lastKey[curve];
  if (last && equal(last.publicKey, publicKey)) return last.key;
  const id = curve + b64url(publicKey);
  let key = keyCache.get(id);
  if (key !== undefined) {
    lastKey[curve] = { publicKey: publicKey.slice(), key };
    return key;
  }
  const jwk =
    curve === "ed25519"
      ? { kty: "OKP", crv: "Ed25519", x: b64url(publicKey) }
      : { kty: "EC", crv: "P-256", x: b64url(publicKey.subarray(0, 32)), y: b64url(publicKey.subarray(32)) };
  try {
    key = createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    key = null; // not a point on the curve
  }
  if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value!);
  keyCache.set(id, key);
  lastKey[curve] = { publicKey: publicKey.slice(), key };
  return key;
}

function verifyNative(curve: Curve, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (publicKey.length !== CURVES[curve].publicKeyLength || signature.length !== CURVES[curve].signatureLength) return false;
  const key = nativeKey(curve, publicKey);
  if (!key) return false;
  try {
    return curve === "ed25519"
      ? nativeVerify(null, message, key, signature)
      : // ieee-p1363 is raw r || s; high-S signatures verify, as devices do not normalise s.
        nativeVerify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
  } catch {
    return false;
  }
}

export const CURVES: Record<Curve, CurveParams> = {
  ed25519: {
    name: "ed25519",
    display: "Ed25519",
    publicKeyLength: 32,
    signatureLength: 64,
    privateKeyLength: 32,
    verify: (signature, message, publicKey) => verifyNative("ed25519", signature, message, publicKey),
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
    verify: (signature, message, publicKey) => verifyNative("p256r1", signature, message, publicKey),
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
