// Who signs certificates, for every CA swtool runs (the lab CA of `swtool x509` and the
// signing server's authority of `swtool pki`): a key file (PKCS#8, SEC1 or PKCS#1 PEM, as
// OpenSSL writes them) or, through the same interface, a key held in a YubiHSM. Signatures are
// the X.509 signatureValue contents: ECDSA Ecdsa-Sig-Value DER (RFC 5758 section 3.2) or RSA
// PKCS#1 v1.5 (RFC 8017), over SHA-256 (SHA-384 for a P-384 key, matched to its strength).
import { createPrivateKey, createPublicKey, sign, type KeyObject } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { FormatError } from "../lib/errors.ts";

export type CaKeyType = "p256" | "p384" | "rsa";

/** The hash each key type signs with. */
export const SIGNATURE_HASH: Record<CaKeyType, "sha256" | "sha384"> = { p256: "sha256", p384: "sha384", rsa: "sha256" };

export interface CaSigner {
  readonly keyType: CaKeyType;
  /** DER SubjectPublicKeyInfo of the signing key. */
  readonly publicKey: Uint8Array;
  /** Where the key lives, for messages ("ca.key", "HSM object 0x0042"); never secrets. */
  readonly description: string;
  /** Signs DER bytes with SIGNATURE_HASH[keyType]; returns the certificate's signatureValue contents. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3";
const OID_RSA_SHA256 = "1.2.840.113549.1.1.11";

/** The certificate's signature AlgorithmIdentifier for a CA key type. */
export function signatureAlgorithm(keyType: CaKeyType): pkijs.AlgorithmIdentifier {
  // ecdsa-with-SHA256/384 have no parameters; sha256WithRSAEncryption an explicit NULL (RFC 4055 5).
  if (keyType === "rsa") return new pkijs.AlgorithmIdentifier({ algorithmId: OID_RSA_SHA256, algorithmParams: new asn1js.Null() });
  return new pkijs.AlgorithmIdentifier({ algorithmId: keyType === "p384" ? OID_ECDSA_SHA384 : OID_ECDSA_SHA256 });
}

/** The CA key type of a public or private key object, or a refusal naming what it is. */
export function caKeyType(key: KeyObject, where: string): CaKeyType {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === "ec" && details.namedCurve === "prime256v1") return "p256";
  if (type === "ec" && details.namedCurve === "secp384r1") return "p384";
  if (type === "rsa" && (details.modulusLength ?? 0) >= 2048) return "rsa";
  const what = type === "ec" ? `an EC key on ${details.namedCurve}` : type === "rsa" ? `a ${details.modulusLength}-bit RSA key` : `a ${type} key`;
  throw new FormatError(`${where}: ${what} cannot be a CA key here`, { advice: "use a P-256 or P-384 key, or an RSA key of at least 2048 bits" });
}

/** A CA key from a PEM or DER key file. */
export function fileSigner(keyData: Uint8Array, description: string): CaSigner {
  let key: KeyObject;
  try {
    const text = new TextDecoder().decode(keyData);
    key = text.includes("-----BEGIN") ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(keyData), format: "der", type: "pkcs8" });
  } catch {
    throw new FormatError(`${description}: not a private key (PKCS#8, SEC1 or PKCS#1, PEM or DER)`, {
      advice: "give the key file written by `swtool x509 ca init` or `openssl genpkey`; encrypted keys must be decrypted first",
    });
  }
  const keyType = caKeyType(key, description);
  const publicKey = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  return {
    keyType,
    publicKey,
    description,
    sign: async (data) => new Uint8Array(sign(SIGNATURE_HASH[keyType], data, key)),
  };
}
