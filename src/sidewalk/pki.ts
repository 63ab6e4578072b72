// Building chains: the device certificate signed by the DAK on top of the CA certificates the
// HSM holds, and whole test PKIs (keys made here) for rehearsal lines and tests. A test PKI's
// root is never Amazon's, so `verify` tells it apart from a production chain.
import { randomBytes } from "node:crypto";
import { bytes } from "../lib/bytes.ts";
import { CURVES, type Curve } from "./curves.ts";
import { toBeSigned } from "./csr.ts";
import { CHAIN_ROLES, type Cert, type Chain, type ChainKind } from "./chain.ts";
import { SMSN_LENGTH } from "./smsn.ts";

export type Signer = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** Signs the device certificate with the DAK and puts it in front of the CA certificates. */
export async function issueDeviceChain(
  curve: Curve,
  kind: ChainKind,
  caCerts: readonly Cert[],
  devicePublicKey: Uint8Array,
  smsn: Uint8Array,
  signWithDak: Signer,
): Promise<Chain> {
  const c = CURVES[curve];
  bytes(devicePublicKey, c.publicKeyLength, "devicePublicKey");
  bytes(smsn, SMSN_LENGTH, "smsn");
  const signature = bytes(await signWithDak(toBeSigned(devicePublicKey, smsn)), c.signatureLength, "DAK signature");
  return { curve, kind, certs: [{ serial: smsn, publicKey: devicePublicKey, signature }, ...caCerts] };
}

export interface TestPki {
  curve: Curve;
  kind: ChainKind;
  /** CA certificates, DAK first, root last (the chain without its device certificate). */
  caCerts: Cert[];
  /** Private keys in the same order; [0] is the DAK. */
  privateKeys: Uint8Array[];
}

/** A 4-byte CA serial, or an expanded one of `length` bytes (length >= 4) when asked. */
export function makeCaSerial(length = 4): Uint8Array {
  const serial = new Uint8Array(randomBytes(length));
  if (length === 4) {
    // Keep the top nibble (byte 3, read little-endian) away from 0xB so it is not read as expanded.
    serial[3] = serial[3]! & 0x7f;
    // The device firmware reads bits 13:12 of the first two bytes (big-endian) as its own
    // expansion marker (see DOMAIN.md); 0b11 there would make a real device refuse the chain.
    serial[0] = serial[0]! & ~0x20;
    return serial;
  }
  const declared = length - 2;
  if (declared < 2 || declared > 0x7f) throw new RangeError(`expanded serial length ${length} out of range 4..129`);
  serial[3] = 0xb0 | (serial[3]! & 0x0f);
  serial[2] = declared;
  return serial;
}

/** Generates a complete CA hierarchy (root self-signed) for one curve. */
export function makeTestPki(curve: Curve, options: { kind?: ChainKind; serialLengths?: number[] } = {}): TestPki {
  const kind = options.kind ?? "sidewalk";
  const c = CURVES[curve];
  const count = CHAIN_ROLES[kind].length - 1;
  const privateKeys = Array.from({ length: count }, () => c.randomPrivateKey());
  const caCerts: Cert[] = new Array(count);
  for (let i = count - 1; i >= 0; i--) {
    const serial = makeCaSerial(options.serialLengths?.[i] ?? 4);
    const publicKey = c.publicKeyFromPrivate(privateKeys[i]!);
    const issuerKey = privateKeys[i + 1] ?? privateKeys[i]!;
    caCerts[i] = { serial, publicKey, signature: c.sign(toBeSigned(publicKey, serial), issuerKey) };
  }
  return { curve, kind, caCerts, privateKeys };
}

/** One product's test PKI per curve (root down to the PRODUCT certificate, and a first DAK). */
export function makeProductPki(): Record<Curve, TestPki> {
  return { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") };
}

/**
 * Another DAK of the same product: a new key certified by the product's PRODUCT key, the chain
 * above it unchanged. Several HSMs of one product (a factory) hold such DAKs, or the same one.
 */
export function anotherDak(product: Record<Curve, TestPki>): Record<Curve, TestPki> {
  const one = (curve: Curve): TestPki => {
    const p = product[curve];
    const key = CURVES[curve].randomPrivateKey();
    const publicKey = CURVES[curve].publicKeyFromPrivate(key);
    const serial = makeCaSerial();
    const dak = { serial, publicKey, signature: CURVES[curve].sign(toBeSigned(publicKey, serial), p.privateKeys[1]!) };
    return { ...p, caCerts: [dak, ...p.caCerts.slice(1)], privateKeys: [key, ...p.privateKeys.slice(1)] };
  };
  return { ed25519: one("ed25519"), p256r1: one("p256r1") };
}
