// Device public keys for X.509 issuance: whatever a device prints or a factory keeps, read into
// one canonical P-256 SubjectPublicKeyInfo (RFC 5480: id-ecPublicKey, prime256v1, uncompressed
// point). Accepted: PEM (PUBLIC KEY, CERTIFICATE, CERTIFICATE REQUEST), DER, plain hex, a raw
// point (64 or 65 bytes, or 33 compressed), and serial-console hex dumps of the DER such as
// FreeRTOS prints (`Device public key, 91 bytes:` then hex groups over several lines).
import * as pkijs from "pkijs";
import { p256 } from "@noble/curves/nist.js";
import { FormatError, VerificationError } from "../lib/errors.ts";
import { concat, fromHex } from "../lib/bytes.ts";
import { findPemBlocks, toPem } from "../lib/pem.ts";

export interface DevicePublicKey {
  /** Canonical DER SubjectPublicKeyInfo, 91 bytes. */
  readonly spki: Uint8Array;
  /** SEC1 uncompressed point 0x04 || X || Y, 65 bytes. */
  readonly point: Uint8Array;
}

const OP = "x509.pubkey";
const ADVICE_CURVE = "devices in this flow must hold a P-256 (prime256v1, secp256r1) key; check the key slot the device reads or the text that was copied";

/** SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04 ... }. */
const P256_SPKI_PREFIX = fromHex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
export const P256_SPKI_LENGTH = P256_SPKI_PREFIX.length + 65;

const OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const OID_P256 = "1.2.840.10045.3.1.7";
const KEY_ALGORITHMS: Record<string, string> = {
  "1.2.840.113549.1.1.1": "an RSA key",
  "1.3.101.112": "an Ed25519 key",
  "1.3.101.110": "an X25519 key",
  "1.3.101.113": "an Ed448 key",
  "1.2.840.10040.4.1": "a DSA key",
};
const EC_CURVES: Record<string, string> = {
  "1.3.132.0.34": "P-384 (secp384r1)",
  "1.3.132.0.35": "P-521 (secp521r1)",
  "1.3.132.0.10": "secp256k1",
  "1.2.840.10045.3.1.1": "P-192 (prime192v1)",
  "1.3.132.0.33": "P-224 (secp224r1)",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
};

/** The canonical key for a SEC1 point (compressed or not); refuses points not on P-256. */
export function keyFromPoint(point: Uint8Array): DevicePublicKey {
  let uncompressed: Uint8Array;
  try {
    const p = p256.Point.fromBytes(point);
    p.assertValidity();
    uncompressed = p.toBytes(false);
  } catch {
    throw new VerificationError(`${OP}: the point is not on the P-256 curve (corrupted or mistyped key)`, {
      advice: "read the key from the device again; a single wrong digit puts the point off the curve",
    });
  }
  return { spki: concat(P256_SPKI_PREFIX, uncompressed), point: uncompressed };
}

/** Length of the DER TLV starting at `offset` (header included), or undefined if the header is cut. */
function tlvLength(data: Uint8Array, offset: number): number | undefined {
  const first = data[offset + 1];
  if (first === undefined) return undefined;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 3 || offset + 2 + n > data.length) return undefined;
  let length = 0;
  for (let i = 0; i < n; i++) length = length * 256 + data[offset + 2 + i]!;
  return 2 + n + length;
}

/** Reads a DER SubjectPublicKeyInfo; `der` must hold exactly one. */
export function keyFromSpki(der: Uint8Array): DevicePublicKey {
  const declared = der[0] === 0x30 ? tlvLength(der, 0) : undefined;
  if (declared !== undefined && der.length < declared) {
    throw new FormatError(`${OP}: truncated key: its DER declares ${declared} bytes but only ${der.length} are there`, {
      advice: "copy the whole key again (a P-256 key is 91 bytes of DER, 182 hex digits)",
    });
  }
  if (declared !== undefined && der.length > declared) {
    throw new FormatError(`${OP}: ${der.length - declared} unexpected bytes after the ${declared}-byte key`);
  }
  let info: pkijs.PublicKeyInfo;
  try {
    info = pkijs.PublicKeyInfo.fromBER(der);
  } catch {
    throw new FormatError(`${OP}: not a DER SubjectPublicKeyInfo`, { advice: "give the key as PEM, DER, hex or a console dump of the DER" });
  }
  const algorithm = info.algorithm.algorithmId;
  if (algorithm !== OID_EC_PUBLIC_KEY) {
    const what = KEY_ALGORITHMS[algorithm] ?? `a key of algorithm ${algorithm}`;
    throw new VerificationError(`${OP}: this is ${what}, not a P-256 EC key`, { advice: ADVICE_CURVE });
  }
  const params = info.algorithm.algorithmParams as { valueBlock?: { toString(): string } } | undefined;
  const curve = params?.valueBlock?.toString();
  if (curve !== OID_P256) {
    const name = curve ? `${EC_CURVES[curve] ?? "an unknown curve"} (OID ${curve})` : "a curve given by explicit parameters";
    throw new VerificationError(`${OP}: the key is on ${name}, not P-256`, { advice: ADVICE_CURVE });
  }
  const bits = info.subjectPublicKey.valueBlock;
  if (bits.unusedBits !== 0) throw new FormatError(`${OP}: the key's BIT STRING has ${bits.unusedBits} unused bits`);
  return keyFromPoint(new Uint8Array(bits.valueHexView));
}

/** A key given as bare bytes: DER SubjectPublicKeyInfo or a raw point. */
function keyFromBytes(data: Uint8Array): DevicePublicKey {
  if (data.length === 64) return keyFromPoint(concat(new Uint8Array([0x04]), data));
  if ((data.length === 65 && data[0] === 0x04) || (data.length === 33 && (data[0] === 0x02 || data[0] === 0x03))) {
    return keyFromPoint(data);
  }
  if (data[0] === 0x30) return keyFromSpki(data);
  throw new FormatError(
    `${OP}: ${data.length} bytes is not a P-256 public key (expected DER SubjectPublicKeyInfo of ${P256_SPKI_LENGTH} bytes, or a raw point of 64 or 65 bytes)`,
    { advice: "copy the whole key again; a truncated key cannot be used" },
  );
}

const HEX_TOKEN = /^(?:0x)?[0-9a-fA-F]+$/;

function hexOfToken(token: string): string | undefined {
  const t = token.replace(/[:,]/g, "");
  return t !== "" && HEX_TOKEN.test(t) ? t.replace(/^0x/, "") : undefined;
}

/**
 * Candidate hex digit streams of a console text. A console line holds either only hex groups or
 * log text; log text may end with the start of the dump (`bytes: 3059 3013`). Digits of a log
 * prefix before the dump do no harm since the DER is searched for, not assumed at the start.
 */
function hexStreams(text: string): string[] {
  let withTails = "";
  let pureOnly = "";
  for (const line of text.split(/\r\n|\r|\n/)) {
    const tokens = line.split(/[\s\0]+/).filter(Boolean);
    const hex = tokens.map(hexOfToken);
    if (hex.every((h) => h !== undefined)) {
      withTails += hex.join("");
      pureOnly += hex.join("");
      continue;
    }
    let tail = "";
    for (let i = hex.length - 1; i >= 0 && hex[i] !== undefined; i--) tail = hex[i] + tail;
    withTails += tail;
  }
  return withTails === pureOnly ? [withTails] : [withTails, pureOnly];
}

/** Start of a SubjectPublicKeyInfo: SEQUENCE, length, SEQUENCE, length, OBJECT IDENTIFIER. */
const SPKI_START = /30(?:[0-7][0-9a-f]|81[0-9a-f]{2}|82[0-9a-f]{4})30[0-7][0-9a-f]06/gi;

/** Searches hex dumps for a DER key; returns the first valid P-256 key, else the best error. */
function keyFromConsole(text: string): DevicePublicKey {
  const announced = /public key,?\s*(\d+)\s*bytes/i.exec(text.replace(/\s+/g, " "));
  const errors: Error[] = [];
  for (const stream of hexStreams(text)) {
    for (let nibble = 0; nibble < 2; nibble++) {
      const aligned = stream.slice(nibble, nibble + ((stream.length - nibble) & ~1));
      const data = fromHex(aligned, "console dump");
      SPKI_START.lastIndex = 0;
      for (let m = SPKI_START.exec(aligned); m; m = SPKI_START.exec(aligned)) {
        if (m.index % 2 !== 0) {
          SPKI_START.lastIndex = m.index + 1;
          continue;
        }
        const start = m.index / 2;
        const length = tlvLength(data, start) ?? 0;
        const der = data.subarray(start, Math.min(data.length, start + length));
        try {
          return keyFromSpki(der);
        } catch (error) {
          errors.push(error as Error);
        }
        SPKI_START.lastIndex = m.index + 2;
      }
    }
  }
  // A key that parsed but is wrong (other curve, off the curve) says more than a truncation.
  const best = errors.find((e) => e instanceof VerificationError) ?? errors[0];
  if (best) {
    if (announced && best.message.includes("truncated")) {
      throw new FormatError(`${OP}: truncated key: the console announced ${announced[1]} bytes but the dump ends early`, {
        advice: "capture the console output again until the whole dump is printed",
      });
    }
    throw best;
  }
  throw new FormatError(`${OP}: no public key found in the text`, {
    advice: "give a PEM public key, DER, hex, a raw P-256 point, or the console dump that starts with the DER (3059...)",
  });
}

function keyFromText(text: string): DevicePublicKey {
  if (text.includes("-----BEGIN")) {
    const blocks = findPemBlocks(text, OP);
    const key = blocks.find((b) => b.label === "PUBLIC KEY");
    if (key) return keyFromSpki(key.der);
    const cert = blocks.find((b) => b.label === "CERTIFICATE");
    if (cert) return keyFromSpki(spkiOf(() => pkijs.Certificate.fromBER(cert.der).subjectPublicKeyInfo, "certificate"));
    const csr = blocks.find((b) => b.label === "CERTIFICATE REQUEST" || b.label === "NEW CERTIFICATE REQUEST");
    if (csr) return keyFromSpki(spkiOf(() => pkijs.CertificationRequest.fromBER(csr.der).subjectPublicKeyInfo, "certificate request"));
    if (blocks.some((b) => /PRIVATE KEY/.test(b.label))) {
      throw new FormatError(`${OP}: this is a private key; give the device's public key`, {
        advice: "the private key must never leave the device; read the public key with `openssl pkey -pubout` or from the device",
      });
    }
    throw new FormatError(`${OP}: no PUBLIC KEY, CERTIFICATE or CERTIFICATE REQUEST block in the PEM text (found ${blocks.map((b) => b.label).join(", ")})`);
  }
  const compact = text.replace(/[\s:,\0]+/g, "").replace(/^0x/i, "");
  if (compact !== "" && /^[0-9a-fA-F]+$/.test(compact)) {
    if (compact.length % 2 !== 0) {
      throw new FormatError(`${OP}: the hex has an odd number of digits (${compact.length})`, { advice: "a digit was lost when copying; copy the key again" });
    }
    return keyFromBytes(fromHex(compact, "public key"));
  }
  return keyFromConsole(text);
}

function spkiOf(read: () => pkijs.PublicKeyInfo, what: string): Uint8Array {
  try {
    return new Uint8Array(read().toSchema().toBER());
  } catch {
    throw new FormatError(`${OP}: the ${what} in the PEM text cannot be parsed`);
  }
}

/** Binary input that is not text: a DER key or a raw point. */
function looksBinary(data: Uint8Array): boolean {
  return data.some((b) => (b > 0 && b < 0x09) || (b > 0x0d && b < 0x20 && b !== 0x1b) || b === 0x7f || b > 0xf4);
}

/** Reads a device public key from a file's bytes or from text. */
export function parseDevicePublicKey(input: Uint8Array | string): DevicePublicKey {
  if (typeof input !== "string") {
    if (!(input instanceof Uint8Array)) throw new FormatError(`${OP}: expected bytes or text, got ${input === null ? "null" : typeof input}`);
    if (input.length === 0) throw new FormatError(`${OP}: the input is empty`);
    if (looksBinary(input)) return keyFromBytes(input);
    input = new TextDecoder().decode(input);
  }
  if (typeof input !== "string") throw new FormatError(`${OP}: expected bytes or text, got ${typeof input}`);
  if (input.trim() === "") throw new FormatError(`${OP}: the input is empty`);
  return keyFromText(input);
}

export function publicKeyPem(key: DevicePublicKey): string {
  return toPem("PUBLIC KEY", key.spki);
}
