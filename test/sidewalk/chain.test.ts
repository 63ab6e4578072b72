import { describe, expect, test } from "bun:test";
import { FormatError, VerificationError } from "../../src/lib/errors.ts";
import {
  assertChain, caSerialLength, CURVES, decodeChain, decodeChainAnyCurve, decodeChainBase64, encodeChain, fromBase64,
  issueDeviceChain, makeCaSerial, makeTestPki, toBase64, toHex, verifyChain, type Chain, type Curve,
} from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

const CURVE_LIST: Curve[] = ["ed25519", "p256r1"];
const ROLE_NAMES = ["DEVICE", "DAK", "PRODUCT", "MANUFACTURER", "SIDEWALK", "AMAZON ROOT"];

async function testChain(curve: Curve, options: Parameters<typeof makeTestPki>[1] = {}): Promise<Chain> {
  const pki = makeTestPki(curve, options);
  const c = CURVES[curve];
  const deviceKey = c.randomPrivateKey();
  return issueDeviceChain(curve, pki.kind, pki.caCerts, c.publicKeyFromPrivate(deviceKey), new Uint8Array(32).fill(0x5a), (m) =>
    c.sign(m, pki.privateKeys[0]!),
  );
}

describe("seed chains", () => {
  for (const curve of CURVE_LIST) {
    const v = seed.chain[curve];
    const raw = fromBase64(v.base64);

    test(`${curve}: structure matches the vector certificate by certificate`, () => {
      expect(raw.length).toBe(curve === "ed25519" ? 628 : 820);
      const chain = decodeChain(raw, curve);
      expect(chain.kind).toBe("sidewalk");
      expect(chain.certs.length).toBe(6);
      chain.certs.forEach((cert, i) => {
        expect(toHex(cert.serial)).toBe(v.certs[i].serial);
        expect(toHex(cert.publicKey)).toBe(v.certs[i].pubkey);
        expect(toHex(cert.signature)).toBe(v.certs[i].signature);
      });
      expect(toHex(chain.certs[0]!.serial)).toBe(seed.smsn.smsn_hex);
    });

    test(`${curve}: every signature verifies and the root is Amazon's`, () => {
      const report = verifyChain(decodeChain(raw, curve));
      expect(report.ok).toBe(true);
      expect(report.amazonRoot).toBe(true);
      expect(report.certs.map((c) => c.role)).toEqual(ROLE_NAMES);
      expect(report.certs.every((c) => c.signatureOk)).toBe(true);
      expect(() => assertChain(decodeChain(raw, curve), { amazonRoot: true, smsn: fromBase64(seed.smsn.device_base64_fragments.join("")) })).not.toThrow();
    });

    test(`${curve}: round trip is byte-exact and the curve is detected`, () => {
      const chain = decodeChainAnyCurve(raw);
      expect(chain.curve).toBe(curve);
      expect(toBase64(encodeChain(chain))).toBe(v.base64);
    });

    test(`${curve}: every single-byte flip is detected`, () => {
      for (let i = 0; i < raw.length; i++) {
        const bad = raw.slice();
        bad[i]! ^= 0x80;
        let detected = false;
        try {
          detected = !verifyChain(decodeChain(bad, curve)).ok;
        } catch (e) {
          expect(e).toBeInstanceOf(FormatError);
          detected = true;
        }
        if (!detected) throw new Error(`flip at byte ${i} not detected`);
      }
    });

    test(`${curve}: a flipped byte names the failing certificate`, () => {
      const bad = raw.slice();
      const dakOffset = 32 + CURVES[curve].publicKeyLength + 64; // DAK certificate starts here
      bad[dakOffset + 10]! ^= 0x01; // inside the DAK public key
      const chain = decodeChain(bad, curve);
      const report = verifyChain(chain);
      // The DAK's own signature (by PRODUCT) fails, and so does the device's (signed by the changed key).
      expect(report.certs.filter((c) => !c.signatureOk).map((c) => c.role)).toEqual(["DEVICE", "DAK"]);
      expect(() => assertChain(chain)).toThrow(`${CURVES[curve].display} chain: signature of certificate 0 (DEVICE, serial ${seed.smsn.smsn_hex}) does not verify against DAK`);
    });

    test(`${curve}: truncated and over-long chains are refused`, () => {
      expect(() => decodeChain(raw.subarray(0, raw.length - 1), curve)).toThrow(`chain.decode(${curve}): truncated signature of AMAZON ROOT`);
      const longer = new Uint8Array(raw.length + 1);
      longer.set(raw);
      expect(() => decodeChain(longer, curve)).toThrow(FormatError);
      expect(() => decodeChain(raw.subarray(0, 10), curve)).toThrow(`chain.decode(${curve}): truncated serial of DEVICE (needs 32 bytes, 10 left)`);
    });
  }

  test("wrong curve is refused", () => {
    expect(() => decodeChain(fromBase64(seed.chain.ed25519.base64), "p256r1")).toThrow(FormatError);
    expect(() => decodeChain(fromBase64(seed.chain.p256r1.base64), "ed25519")).toThrow(FormatError);
  });

  test("bad base64 and garbage are refused without a stack trace type", () => {
    expect(() => decodeChainBase64("not base64!")).toThrow('"chain" is not valid base64: it contains " " at position 3');
    expect(() => decodeChainBase64("AAAA")).toThrow("chain.decode: 3 bytes is neither an Ed25519 nor a P-256 chain");
  });
});

describe("generated test PKIs", () => {
  for (const curve of CURVE_LIST) {
    test(`${curve}: 6-certificate chain verifies, root is not Amazon's`, async () => {
      const chain = await testChain(curve);
      const bytes = encodeChain(chain);
      expect(bytes.length).toBe(curve === "ed25519" ? 628 : 820);
      const back = decodeChainAnyCurve(bytes);
      const report = verifyChain(back);
      expect(report.ok).toBe(true);
      expect(report.amazonRoot).toBe(false);
      expect(() => assertChain(back, { amazonRoot: true })).toThrow(VerificationError);
      expect(() => assertChain(back, { amazonRoot: true })).toThrow(/not Amazon's production root/);
    });

    test(`${curve}: serial expansion round-trips`, async () => {
      const chain = await testChain(curve, { serialLengths: [6, 4, 17, 4, 8] });
      const bytes = encodeChain(chain);
      const back = decodeChain(bytes, curve);
      expect(back.certs.map((c) => c.serial.length)).toEqual([32, 6, 4, 17, 4, 8]);
      expect(verifyChain(back).ok).toBe(true);
      expect(toHex(encodeChain(back))).toBe(toHex(bytes));
    });

    test(`${curve}: legacy 4-certificate chain`, async () => {
      const chain = await testChain(curve, { kind: "legacy" });
      const back = decodeChain(encodeChain(chain), curve);
      expect(back.kind).toBe("legacy");
      const report = verifyChain(back);
      expect(report.ok).toBe(true);
      expect(report.certs.map((c) => c.role)).toEqual(["DEVICE", "MODEL", "MANUFACTURER", "AMAZON ROOT"]);
    });

    test(`${curve}: device certificate for another SMSN or key is refused`, async () => {
      const chain = await testChain(curve);
      expect(() => assertChain(chain, { smsn: new Uint8Array(32) })).toThrow(/device serial 5a5a.* is not the SMSN 0000/);
      expect(() => assertChain(chain, { devicePublicKey: new Uint8Array(CURVES[curve].publicKeyLength) })).toThrow("device public key is not the key of the CSR");
    });
  }

  test("serial expansion rule (signing tool's): length from the first 4 bytes little-endian", () => {
    expect(caSerialLength(Uint8Array.from([0x01, 0x80, 0x00, 0x03]))).toBe(4);
    expect(caSerialLength(Uint8Array.from([0x00, 0x00, 0x04, 0xb0]))).toBe(6);
    expect(caSerialLength(Uint8Array.from([0x00, 0x00, 0x84, 0xbf]))).toBe(6); // only 7 bits count
    expect(caSerialLength(Uint8Array.from([0xb0, 0x00, 0x04, 0x00]))).toBe(4); // big-endian reading does not count
    expect(makeCaSerial(9).length).toBe(9);
    expect(caSerialLength(makeCaSerial(9).subarray(0, 4))).toBe(9);
    expect(caSerialLength(makeCaSerial(4))).toBe(4);
  });

  test("an expanded serial that declares fewer than 4 bytes is refused", () => {
    const raw = fromBase64(seed.chain.ed25519.base64).slice();
    raw.set([0x00, 0x00, 0x00, 0xb0], 128); // DAK serial: declares 2 bytes
    expect(() => decodeChain(raw, "ed25519")).toThrow("chain.decode(ed25519): serial of DAK declares 2 bytes; at least 4 are needed");
  });

  test("reject invalid inputs: wrong types and lengths", () => {
    for (const value of [null, undefined, 1, "x", {}, [0]]) {
      expect(() => decodeChain(value as never, "ed25519")).toThrow(FormatError);
    }
    const good = decodeChain(fromBase64(seed.chain.ed25519.base64), "ed25519");
    const broken = { ...good, certs: good.certs.map((c, i) => (i === 2 ? { ...c, signature: c.signature.subarray(1) } : c)) };
    expect(() => encodeChain(broken)).toThrow('"PRODUCT.signature" expected 64 bytes, got 63');
    expect(() => encodeChain({ ...good, certs: good.certs.slice(0, 5) })).toThrow("chain.encode: 5 certificates; expected 6 or 4");
  });
});
