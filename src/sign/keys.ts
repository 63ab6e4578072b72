// Device private keys of the legacy flow, as OpenSSL writes them: P-256 as SEC1
// "EC PRIVATE KEY" (`openssl ecparam -name prime256v1 -genkey`, with its EC PARAMETERS block)
// or PKCS#8, Ed25519 as PKCS#8 (`openssl genpkey -algorithm ed25519`). Raw keys out, raw keys in.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { FormatError, VerificationError } from "../lib/errors.ts";
import { bytes, concat, equal, fromHex } from "../lib/bytes.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";

export interface DeviceKey {
  curve: Curve;
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

const b64url = (s: string | undefined) => new Uint8Array(Buffer.from(s ?? "", "base64url"));

/** Reads a PEM private key of the given curve; `source` names it in errors (a file path). */
export function readPrivateKeyPem(pem: string, curve: Curve, source: string): DeviceKey {
  const name = CURVES[curve].display;
  if (!pem.includes("-----BEGIN")) throw new FormatError(`${source}: not a PEM file (no "-----BEGIN" line)`);
  if (/ENCRYPTED/.test(pem)) {
    throw new FormatError(`${source}: the private key is encrypted`, { advice: "device keys of the legacy flow are unencrypted; export it with `openssl pkey -in KEY -out PLAIN`" });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (e) {
    throw new FormatError(`${source}: cannot read the private key (${(e as Error).message})`);
  }
  const jwk = key.export({ format: "jwk" });
  const found = jwk.crv ?? key.asymmetricKeyType ?? "unknown";
  if ((curve === "ed25519" && jwk.crv !== "Ed25519") || (curve === "p256r1" && jwk.crv !== "P-256")) {
    throw new FormatError(`${source}: is ${/^[AEIOU]/i.test(found) ? "an" : "a"} ${found} key, not ${name}`, { advice: "the Ed25519 and P-256 key files look swapped or wrong" });
  }
  const privateKey = bytes(b64url(jwk.d), 32, `${source} private key`);
  const publicKey = curve === "ed25519" ? b64url(jwk.x) : concat(b64url(jwk.x), b64url(jwk.y));
  const derived = CURVES[curve].publicKeyFromPrivate(privateKey);
  if (!equal(derived, publicKey)) throw new VerificationError(`${source}: the public key stored in the file does not belong to its private key`);
  return { curve, privateKey, publicKey };
}

/** A raw private key given as hex on the command line (`--ed25519_private_key`). */
export function readPrivateKeyHex(hex: string, curve: Curve, field: string): DeviceKey {
  const privateKey = bytes(fromHex(hex, field), CURVES[curve].privateKeyLength, field);
  let publicKey: Uint8Array;
  try {
    publicKey = CURVES[curve].publicKeyFromPrivate(privateKey);
  } catch {
    throw new FormatError(`"${field}" is not a valid ${CURVES[curve].display} private key`);
  }
  return { curve, privateKey, publicKey };
}

/** New device key files in the formats of the guide's OpenSSL commands. */
export function generateKeyPem(curve: Curve): string {
  if (curve === "ed25519") {
    return generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  }
  const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
  // `openssl ecparam -name prime256v1 -genkey` writes the named-curve parameters first.
  const params = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
  return params + key.export({ type: "sec1", format: "pem" }).toString();
}
