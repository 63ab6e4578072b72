// Signature checks through the runtime's native crypto (BoringSSL under Bun), for bulk work
// where @noble/curves would be too slow (about 0.5 ms per Ed25519 and 0.8 ms per P-256 verify
// there, 0.04 ms here): consolidating 100,000 logs means 200,000 device signatures. Same
// conventions as sidewalk/curves.ts (raw keys, raw r || s, ECDSA over SHA-256, high S allowed).
// A native "no" is re-checked with CURVES so a rejection always means what chain.ts means.
import { createPublicKey, verify, type KeyObject } from "node:crypto";
import { CURVES, type Curve } from "../sidewalk/curves.ts";

const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64url");

function keyObject(curve: Curve, publicKey: Uint8Array): KeyObject {
  const jwk =
    curve === "ed25519"
      ? { kty: "OKP", crv: "Ed25519", x: b64url(publicKey) }
      : { kty: "EC", crv: "P-256", x: b64url(publicKey.subarray(0, 32)), y: b64url(publicKey.subarray(32)) };
  return createPublicKey({ key: jwk, format: "jwk" });
}

/**
 * A verifier for one issuer key (a DAK): the key is checked with CURVES and imported once, then
 * reused for every device it signed.
 */
export class IssuerVerifier {
  private readonly key: KeyObject | undefined;
  constructor(
    readonly curve: Curve,
    readonly publicKey: Uint8Array,
  ) {
    if (CURVES[curve].isValidPublicKey(publicKey)) {
      try {
        this.key = keyObject(curve, publicKey);
      } catch {
        // left undefined: every check falls back to CURVES
      }
    }
  }

  verify(signature: Uint8Array, message: Uint8Array): boolean {
    if (this.key) {
      const ok =
        this.curve === "ed25519"
          ? verify(null, message, this.key, signature)
          : verify("sha256", message, { key: this.key, dsaEncoding: "ieee-p1363" }, signature);
      if (ok) return true;
    }
    return CURVES[this.curve].verify(signature, message, this.publicKey);
  }
}
