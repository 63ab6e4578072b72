import { describe, expect, test } from "bun:test";
import { FormatError } from "../../src/lib/errors.ts";
import { CURVES, decodeCsr, decodeCsrBase64, encodeCsr, fromBase64, makeCsr, toBase64, toHex, verifyCsr, type Curve } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

const CURVE_LIST: Curve[] = ["ed25519", "p256r1"];

describe("CSR", () => {
  for (const curve of CURVE_LIST) {
    test(`seed ${curve} CSR decodes and verifies`, () => {
      const v = seed.csr[curve];
      const csr = decodeCsrBase64(v.base64);
      expect(csr.curve).toBe(curve);
      expect(toHex(csr.publicKey)).toBe(v.pubkey);
      expect(toHex(csr.smsn)).toBe(v.smsn);
      expect(toHex(csr.signature!)).toBe(v.signature);
      expect(verifyCsr(csr)).toBe(true);
      expect(toBase64(encodeCsr(csr))).toBe(v.base64);
    });

    test(`seed ${curve} CSR: every single-byte flip fails verification`, () => {
      const raw = fromBase64(seed.csr[curve].base64);
      for (let i = 0; i < raw.length; i++) {
        const bad = raw.slice();
        bad[i]! ^= 0x01;
        expect(verifyCsr(decodeCsr(bad, curve))).toBe(false);
      }
    });

    test(`${curve} unsigned CSR (legacy flow)`, () => {
      const raw = fromBase64(seed.csr[curve].base64);
      const unsigned = raw.subarray(0, CURVES[curve].publicKeyLength + 32);
      const csr = decodeCsr(unsigned);
      expect(csr.curve).toBe(curve);
      expect(csr.signature).toBeUndefined();
      expect(verifyCsr(csr)).toBe(false);
    });

    test(`${curve} CSR made on the PC verifies`, () => {
      const key = CURVES[curve].randomPrivateKey();
      const csr = makeCsr(curve, key, new Uint8Array(32).fill(7));
      expect(verifyCsr(csr)).toBe(true);
      expect(decodeCsr(encodeCsr(csr)).curve).toBe(curve);
    });
  }

  test("P-256: a high-S signature (devices do not normalise s) verifies, as the signing tool accepts it", () => {
    const csr = decodeCsrBase64(seed.csr.p256r1.base64);
    const n = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
    const s = BigInt("0x" + toHex(csr.signature!.subarray(32)));
    const flipped = (n - s).toString(16).padStart(64, "0");
    const other = { ...csr, signature: Uint8Array.from(Buffer.concat([csr.signature!.subarray(0, 32), Buffer.from(flipped, "hex")])) };
    expect(verifyCsr(csr)).toBe(true);
    expect(verifyCsr(other)).toBe(true);
  });

  test("the truncated CSR from the published docs is refused with the reason", () => {
    const bad = seed.bad_inputs_seen_in_docs.ed25519_csr_missing_first_char;
    expect(() => decodeCsrBase64(bad, "ed25519", "eddsa_csr")).toThrow(
      '"eddsa_csr" is not valid base64: its length 171 is not a multiple of 4 (truncated or missing padding?)',
    );
  });

  test("wrong curve and wrong lengths are named", () => {
    const ed = fromBase64(seed.csr.ed25519.base64);
    const p = fromBase64(seed.csr.p256r1.base64);
    expect(() => decodeCsr(ed, "p256r1")).toThrow("csr.decode: 128 bytes is not a P-256 CSR (expected 160, or 96 unsigned); it has the length of an Ed25519 CSR");
    expect(() => decodeCsr(p, "ed25519")).toThrow("csr.decode: 160 bytes is not an Ed25519 CSR (expected 128, or 64 unsigned); it has the length of a P-256 CSR");
    expect(() => decodeCsr(ed.subarray(0, 127))).toThrow("csr.decode: 127 bytes is not a CSR length (Ed25519: 128 or 64, P-256: 160 or 96)");
    expect(() => decodeCsr(new Uint8Array(161))).toThrow(FormatError);
    expect(() => decodeCsr(new Uint8Array(0))).toThrow(FormatError);
  });

  test("bad base64 is refused with the reason", () => {
    expect(() => decodeCsrBase64("jfmu*cN1", undefined, "csr")).toThrow('"csr" is not valid base64: it contains "*" at position 4');
    expect(() => decodeCsrBase64("jf==mu", undefined, "csr")).toThrow(FormatError);
    expect(() => decodeCsrBase64("", undefined, "csr")).toThrow("csr.decode: 0 bytes is not a CSR length");
  });

  test("reject invalid inputs: wrong types", () => {
    for (const value of [null, undefined, 42, "text", [1, 2], {}]) {
      expect(() => decodeCsr(value as never)).toThrow(FormatError);
      expect(() => encodeCsr({ curve: "ed25519", publicKey: value as never, smsn: new Uint8Array(32) })).toThrow(FormatError);
    }
    expect(() => encodeCsr({ curve: "ed25519", publicKey: new Uint8Array(31), smsn: new Uint8Array(32) })).toThrow('"publicKey" expected 32 bytes, got 31');
    expect(() => encodeCsr({ curve: "p256r1", publicKey: new Uint8Array(64), smsn: new Uint8Array(33) })).toThrow('"smsn" expected 32 bytes, got 33');
  });
});
