// A CA key held in a YubiHSM 2 (`--ca-key hsm:<object id>`): the public key comes from Get
// Public Key, signatures from Sign ECDSA over the SHA-256 digest the host computes; the HSM
// client hands back raw r || s, which X.509 wants as a DER Ecdsa-Sig-Value (RFC 5758 3.2).
// P-256 keys only (the HSM client has no PKCS#1 signing).
import { sha256 } from "@noble/hashes/sha2.js";
import { p256 } from "@noble/curves/nist.js";
import type { HsmClient } from "../hsm/client.ts";
import { ALGORITHM, ALGORITHM_NAMES, hex16 } from "../hsm/protocol.ts";
import { FormatError, UsageError } from "../lib/errors.ts";
import { concat } from "../lib/bytes.ts";
import type { CaSigner } from "./ca-signer.ts";
import { keyFromPoint } from "./pubkey.ts";

export const HSM_PREFIX = "hsm:";

/** The object id of `hsm:<id>` (decimal or 0x hex). */
export function hsmKeyId(spec: string): number {
  const raw = spec.slice(HSM_PREFIX.length);
  const id = /^0x[0-9a-f]{1,4}$/i.test(raw) ? parseInt(raw, 16) : /^\d{1,5}$/.test(raw) ? parseInt(raw, 10) : NaN;
  if (!(id >= 1 && id <= 0xfffe)) {
    throw new UsageError(`--ca-key ${JSON.stringify(spec)}: ${JSON.stringify(raw)} is not an HSM object id (1..65534)`, { advice: "write the key's object id, e.g. --ca-key hsm:0x0100" });
  }
  return id;
}

export async function hsmSigner(client: HsmClient, keyId: number): Promise<CaSigner> {
  const description = `HSM key ${hex16(keyId)}`;
  const { algorithm, key } = await client.getPublicKey(keyId);
  if (algorithm !== ALGORITHM.EC_P256) {
    throw new FormatError(`${description} is ${ALGORITHM_NAMES[algorithm] ?? `algorithm ${algorithm}`}, not a P-256 key`, {
      advice: "the CA key in the HSM must be an ecp256 asymmetric key with the sign-ecdsa capability",
    });
  }
  return {
    keyType: "p256",
    publicKey: keyFromPoint(concat(new Uint8Array([0x04]), key)).spki,
    description,
    async sign(data) {
      const raw = await client.signEcdsa(keyId, sha256(data));
      return p256.Signature.fromBytes(raw, "compact").toBytes("der");
    },
  };
}
