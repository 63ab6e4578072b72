// New CA and end-entity key pairs, for every CA swtool runs: the algorithms nginx (OpenSSL) and
// every TLS client accept, P-256 by default. A key is written as PKCS#8 PEM, the form
// `openssl genpkey` writes, and signs through a file CaSigner.
import { generateKeyPairSync } from "node:crypto";
import { UsageError } from "../lib/errors.ts";
import { fileSigner, type CaSigner } from "./ca-signer.ts";

export type KeyAlgorithm = "p256" | "p384" | "rsa2048" | "rsa3072" | "rsa4096";
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ["p256", "p384", "rsa2048", "rsa3072", "rsa4096"];

export function parseKeyAlgorithm(text: string): KeyAlgorithm {
  const t = text.trim().toLowerCase().replace(/[-_]/g, "");
  const alias: Record<string, KeyAlgorithm> = { p256: "p256", prime256v1: "p256", secp256r1: "p256", ecdsa: "p256", p384: "p384", secp384r1: "p384" };
  const found = alias[t] ?? (KEY_ALGORITHMS.includes(t as KeyAlgorithm) ? (t as KeyAlgorithm) : undefined);
  if (!found) throw new UsageError(`unknown key algorithm ${JSON.stringify(text)}`, { advice: `use one of ${KEY_ALGORITHMS.join(", ")}` });
  return found;
}

export interface NewKey {
  /** PKCS#8 PEM; the caller writes it with owner-only permissions. */
  keyPem: string;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  signer: CaSigner;
}

export function generateKey(algorithm: KeyAlgorithm, description = "new key"): NewKey {
  const pair =
    algorithm === "p256" || algorithm === "p384"
      ? generateKeyPairSync("ec", { namedCurve: algorithm === "p256" ? "prime256v1" : "secp384r1" })
      : generateKeyPairSync("rsa", { modulusLength: Number(algorithm.slice(3)) });
  const keyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const signer = fileSigner(new TextEncoder().encode(keyPem), description);
  return { keyPem, publicKey: signer.publicKey, signer };
}
