// Simulated device: asymmetric keys (Ed25519 and EC P-256): import, generate, public key, sign.
// ECDSA signs the digest the host sent and answers in DER, s not normalised, as the device does.
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { generateAsymmetricKey } from "../commands/generate-asymmetric-key.ts";
import { getPublicKey } from "../commands/get-public-key.ts";
import { putAsymmetricKey } from "../commands/put-asymmetric-key.ts";
import { signEcdsa } from "../commands/sign-ecdsa.ts";
import { signEddsa } from "../commands/sign-eddsa.ts";
import { ALGORITHM, CMD, hex16, OBJECT_TYPE, ORIGIN } from "../protocol.ts";
import { admitNew, fault, has, requireCapability, visible, type CommandContext } from "./access.ts";
import type { StoredObject } from "./state.ts";

type Handler = (ctx: CommandContext, data: Uint8Array) => Uint8Array;

function checkPrivateKey(algorithm: number, key: Uint8Array): void {
  if (algorithm === ALGORITHM.EC_ED25519) {
    if (key.length !== 32) throw fault("INVALID_DATA", "Ed25519 key must be 32 bytes");
  } else if (algorithm === ALGORITHM.EC_P256) {
    if (key.length !== 32 || !p256.utils.isValidSecretKey(key)) throw fault("INVALID_DATA", "not a P-256 private key");
  } else {
    throw fault("INVALID_DATA", `algorithm ${algorithm} is not simulated (Ed25519 and EC P-256 are)`);
  }
}

function publicKeyOf(o: StoredObject): Uint8Array {
  // P-256 as the device answers it: X || Y without the 0x04 prefix.
  return o.algorithm === ALGORITHM.EC_ED25519 ? ed25519.getPublicKey(o.data) : p256.getPublicKey(o.data, false).subarray(1);
}

function signingKey(ctx: CommandContext, keyId: number, capability: "SIGN_EDDSA" | "SIGN_ECDSA", algorithm: number): StoredObject {
  requireCapability(ctx, capability);
  ctx.target = hex16(keyId);
  const key = visible(ctx, OBJECT_TYPE.ASYMMETRIC_KEY, keyId);
  if (!has(key, capability)) throw fault("INSUFFICIENT_PERMISSIONS", `key lacks ${capability}`);
  if (key.algorithm !== algorithm) throw fault("INVALID_DATA", "key algorithm does not fit the command");
  return key;
}

function storeKey(ctx: CommandContext, o: { id: number; label: string; domains: number; capabilities: bigint; algorithm: number }, privateKey: Uint8Array, origin: number): number {
  const id = admitNew(ctx, OBJECT_TYPE.ASYMMETRIC_KEY, o.id, o.domains, o.capabilities);
  ctx.state.put({ ...o, id, type: OBJECT_TYPE.ASYMMETRIC_KEY, delegatedCapabilities: 0n, origin, data: new Uint8Array(privateKey) });
  ctx.persist();
  return id;
}

export const keyCommands: Record<number, Handler> = {
  [CMD.PUT_ASYMMETRIC_KEY](ctx, data) {
    requireCapability(ctx, "PUT_ASYMMETRIC");
    const k = putAsymmetricKey.decodeRequest(data);
    ctx.target = hex16(k.id);
    checkPrivateKey(k.algorithm, k.privateKey);
    return putAsymmetricKey.encodeResponse(storeKey(ctx, k, k.privateKey, ORIGIN.IMPORTED));
  },
  [CMD.GENERATE_ASYMMETRIC_KEY](ctx, data) {
    requireCapability(ctx, "GENERATE_ASYMMETRIC_KEY");
    const k = generateAsymmetricKey.decodeRequest(data);
    ctx.target = hex16(k.id);
    checkPrivateKey(k.algorithm, new Uint8Array(32).fill(1));
    const privateKey = k.algorithm === ALGORITHM.EC_ED25519 ? ed25519.utils.randomSecretKey() : p256.utils.randomSecretKey();
    return generateAsymmetricKey.encodeResponse(storeKey(ctx, k, privateKey, ORIGIN.GENERATED));
  },
  [CMD.GET_PUBLIC_KEY](ctx, data) {
    const id = getPublicKey.decodeRequest(data);
    ctx.target = hex16(id);
    const key = visible(ctx, OBJECT_TYPE.ASYMMETRIC_KEY, id);
    return getPublicKey.encodeResponse({ algorithm: key.algorithm, key: publicKeyOf(key) });
  },
  [CMD.SIGN_EDDSA](ctx, data) {
    const r = signEddsa.decodeRequest(data);
    const key = signingKey(ctx, r.keyId, "SIGN_EDDSA", ALGORITHM.EC_ED25519);
    return signEddsa.encodeResponse(ed25519.sign(r.data, key.data));
  },
  [CMD.SIGN_ECDSA](ctx, data) {
    const r = signEcdsa.decodeRequest(data);
    const key = signingKey(ctx, r.keyId, "SIGN_ECDSA", ALGORITHM.EC_P256);
    // The device takes digests of 20 to 64 bytes (SHA-1 .. SHA-512) and truncates to the curve.
    if (r.data.length < 20 || r.data.length > 64) throw fault("WRONG_LENGTH", "digest length");
    return signEcdsa.encodeResponse(p256.sign(r.data, key.data, { prehash: false, lowS: false, format: "der", extraEntropy: true }));
  },
};
