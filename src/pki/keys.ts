// Key pairs of the signing-server PKI on WebCrypto: generation, PKCS#8 PEM export and import,
// and the check that a private key belongs to a certificate. Algorithms are the ones nginx
// (OpenSSL) and every TLS client accept; P-256 is the default.
import * as asn1js from "asn1js";
import type { webcrypto } from "node:crypto";
import * as pkijs from "pkijs";
import { FormatError, UsageError, VerificationError } from "../lib/errors.ts";
import { fromPem, toPem } from "./pem.ts";

export type KeyAlgorithm = "p256" | "p384" | "rsa2048" | "rsa3072" | "rsa4096";

// WebCrypto parameter shapes (the DOM lib is not in this project's lib set; Node's names are).
type GenerateParams = webcrypto.EcKeyGenParams | webcrypto.RsaHashedKeyGenParams;
type ImportParams = webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
type SignParams = webcrypto.EcdsaParams | webcrypto.Algorithm;

interface AlgorithmSpec {
  generate: GenerateParams;
  /** Import parameters for PKCS#8 keys of this algorithm. */
  import: ImportParams;
  /** The hash the certificate signature uses (matched to the key's strength). */
  hash: "SHA-256" | "SHA-384";
  sign: SignParams;
}

const rsa = (bits: number): AlgorithmSpec => ({
  generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  hash: "SHA-256",
  sign: { name: "RSASSA-PKCS1-v1_5" },
});

export const KEY_ALGORITHMS: Record<KeyAlgorithm, AlgorithmSpec> = {
  p256: {
    generate: { name: "ECDSA", namedCurve: "P-256" },
    import: { name: "ECDSA", namedCurve: "P-256" },
    hash: "SHA-256",
    sign: { name: "ECDSA", hash: "SHA-256" },
  },
  p384: {
    generate: { name: "ECDSA", namedCurve: "P-384" },
    import: { name: "ECDSA", namedCurve: "P-384" },
    hash: "SHA-384",
    sign: { name: "ECDSA", hash: "SHA-384" },
  },
  rsa2048: rsa(2048),
  rsa3072: rsa(3072),
  rsa4096: rsa(4096),
};

export function parseKeyAlgorithm(text: string): KeyAlgorithm {
  const t = text.trim().toLowerCase().replace(/[-_]/g, "");
  const alias: Record<string, KeyAlgorithm> = { p256: "p256", prime256v1: "p256", secp256r1: "p256", ecdsa: "p256", p384: "p384", secp384r1: "p384" };
  const found = alias[t] ?? (t in KEY_ALGORITHMS ? (t as KeyAlgorithm) : undefined);
  if (!found) {
    throw new UsageError(`unknown key algorithm ${JSON.stringify(text)}`, { advice: `use one of ${Object.keys(KEY_ALGORITHMS).join(", ")}` });
  }
  return found;
}

/** A private key with what is needed to sign certificates with it. */
export interface PrivateKey {
  algorithm: KeyAlgorithm;
  key: CryptoKey;
}

let engineReady = false;
/** pkijs signs and parses through a WebCrypto engine; Bun and Node provide one globally. */
export function pkijsEngine(): pkijs.ICryptoEngine {
  if (!engineReady) {
    // Bun's WebCrypto lacks only the KEM methods pkijs declares (unused here).
    pkijs.setEngine("swtool", new pkijs.CryptoEngine({ name: "swtool", crypto: globalThis.crypto }) as unknown as pkijs.ICryptoEngine);
    engineReady = true;
  }
  return pkijs.getCrypto(true);
}

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<{ privateKey: PrivateKey; publicKey: CryptoKey }> {
  const pair = (await crypto.subtle.generateKey(KEY_ALGORITHMS[algorithm].generate, true, ["sign", "verify"])) as CryptoKeyPair;
  return { privateKey: { algorithm, key: pair.privateKey }, publicKey: pair.publicKey };
}

/** PKCS#8 "PRIVATE KEY" PEM, as `openssl genpkey` writes it. */
export async function privateKeyToPem(key: PrivateKey): Promise<string> {
  return toPem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", key.key));
}

const OID_EC = "1.2.840.10045.2.1";
const OID_RSA = "1.2.840.113549.1.1.1";
const EC_CURVES: Record<string, KeyAlgorithm> = { "1.2.840.10045.3.1.7": "p256", "1.3.132.0.34": "p384" };

function algorithmOfPkcs8(der: Uint8Array, field: string): KeyAlgorithm {
  let info: pkijs.PrivateKeyInfo;
  try {
    info = pkijs.PrivateKeyInfo.fromBER(der);
  } catch (e) {
    throw new FormatError(`${field}: not a PKCS#8 private key (${(e as Error).message})`, { cause: e });
  }
  const oid = info.privateKeyAlgorithm.algorithmId;
  if (oid === OID_EC) {
    const params = info.privateKeyAlgorithm.algorithmParams;
    const curve = params instanceof asn1js.ObjectIdentifier ? EC_CURVES[params.valueBlock.toString()] : undefined;
    if (curve) return curve;
    throw new FormatError(`${field}: EC key on an unsupported curve`, { advice: "use a P-256 or P-384 key" });
  }
  if (oid === OID_RSA) {
    const rsaKey = info.parsedKey as pkijs.RSAPrivateKey | undefined;
    const modulus = rsaKey?.modulus.valueBlock.valueHexView;
    const bits = modulus ? (modulus.length - (modulus[0] === 0 ? 1 : 0)) * 8 : 0;
    const algorithm = `rsa${bits}`;
    if (algorithm in KEY_ALGORITHMS) return algorithm as KeyAlgorithm;
    throw new FormatError(`${field}: RSA key of ${bits} bits is not supported`, { advice: "use 2048, 3072 or 4096 bits" });
  }
  throw new FormatError(`${field}: key algorithm ${oid} is not supported`, { advice: `use one of ${Object.keys(KEY_ALGORITHMS).join(", ")}` });
}

/** Reads a PKCS#8 PEM private key (the form `swtool pki` writes). */
export async function privateKeyFromPem(text: string, field: string): Promise<PrivateKey> {
  const { der } = fromPem(text, ["PRIVATE KEY"], field);
  const algorithm = algorithmOfPkcs8(der, field);
  const key = await crypto.subtle.importKey("pkcs8", der.slice(), KEY_ALGORITHMS[algorithm].import, false, ["sign"]);
  return { algorithm, key };
}

/** Proves `key` is the private half of `cert`'s public key by signing a challenge with it. */
export async function assertKeyMatchesCertificate(key: PrivateKey, cert: pkijs.Certificate, field: string): Promise<void> {
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  const spec = KEY_ALGORITHMS[key.algorithm];
  const signature = await crypto.subtle.sign(spec.sign, key.key, challenge);
  let ok = false;
  try {
    const publicKey = await crypto.subtle.importKey("spki", cert.subjectPublicKeyInfo.toSchema().toBER(false), spec.import, false, ["verify"]);
    ok = await crypto.subtle.verify(spec.sign, publicKey, signature, challenge);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new VerificationError(`${field} does not belong to the certificate beside it`, {
      advice: "the key and certificate files come from different runs; use the pair written together",
    });
  }
}
