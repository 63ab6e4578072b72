// The on-device certificate library of the Factory Diagnostic Firmware, simulated: the state
// machine, argument checks and error codes of sid_on_dev_cert.c in Nordic's sdk-sidewalk
// (subsys/sal/sid_pal/sid_on_dev_cert/), with real key generation and real signatures.
// What `cert store` would write to the manufacturing store is kept as a StoredIdentity.
import { sha256 } from "@noble/hashes/sha2.js";
import { concat, equal, toHex } from "../../lib/bytes.ts";
import { CURVES, type Curve } from "../../sidewalk/curves.ts";
import { toBeSigned } from "../../sidewalk/csr.ts";
import { SID_ERRORS } from "../protocol/sid-errors.ts";

const SMSN_SIZE = 32;
const SIGNATURE_SIZE = 64;
const CA_SERIAL_MIN = 4;
const CA_SERIAL_MAX = 2 + 127;
const CA_COUNT = 5;
const SERIAL_NUM_SIZE = 17; // SID_PAL_MFG_STORE_SERIAL_NUM_SIZE: DSN and its terminator
const APID_SIZE = 4;

const FLAG = { SMSN: 0x01, APP_KEY: 0x02, ED25519_CSR: 0x04, P256R1_CSR: 0x08, ED25519_CHAIN: 0x10, P256R1_CHAIN: 0x20 } as const;
const FULL = 0x3f;
const CSR_FLAG: Record<Curve, number> = { ed25519: FLAG.ED25519_CSR, p256r1: FLAG.P256R1_CSR };
const CHAIN_FLAG: Record<Curve, number> = { ed25519: FLAG.ED25519_CHAIN, p256r1: FLAG.P256R1_CHAIN };

/** Bounds of a chain the library accepts (SID_ODC_*_SCC_MIN_SIZE / _MAX_SIZE). */
export function chainSizeLimits(curve: Curve): { min: number; max: number } {
  const c = CURVES[curve];
  const device = SMSN_SIZE + c.publicKeyLength + SIGNATURE_SIZE;
  return {
    min: CA_COUNT * (CA_SERIAL_MIN + c.publicKeyLength + SIGNATURE_SIZE) + device,
    max: CA_COUNT * (CA_SERIAL_MAX + c.publicKeyLength + SIGNATURE_SIZE) + device,
  };
}

/**
 * The firmware's CA serial length rule: the first two bytes read big-endian; 0b11 in bits
 * 13:12 means an extended serial of (head & 0x7f) + 4 bytes. It differs from the signing
 * tool's rule on expanded serials (see DOMAIN.md); standard serials read the same.
 */
function firmwareSerialLength(serial: Uint8Array): number {
  const head = ((serial[0] ?? 0) << 8) | (serial[1] ?? 0);
  return (head & 0x3000) === 0x3000 ? (head & 0x7f) + 4 : CA_SERIAL_MIN;
}

interface CaCert {
  serial: Uint8Array;
  publicKey: Uint8Array;
  signature: Uint8Array;
}

interface DeviceKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  signature?: Uint8Array;
}

interface Context {
  state: number;
  smsn: Uint8Array;
  apid: string;
  appKey: Uint8Array;
  keys: Partial<Record<Curve, DeviceKey>>;
  cas: Partial<Record<Curve, CaCert[]>>;
}

/** What a successful `cert store` wrote to the manufacturing store. */
export interface StoredIdentity {
  smsn: string;
  apid: string;
  appServerPublicKey: string;
  devicePublicKeys: Record<Curve, string>;
  /** The device certificate signatures (by the DAK) and the CA certificates, DAK first. */
  deviceSignatures: Record<Curve, string>;
  caSerials: Record<Curve, string[]>;
  caPublicKeys: Record<Curve, string[]>;
}


export class OnDeviceCertLibrary {
  private context: Context | undefined;
  /** The manufacturing store after the last successful `cert store`. */
  stored: StoredIdentity | undefined;

  get initialised(): boolean {
    return this.context !== undefined;
  }

  init(): number {
    this.context = { state: 0, smsn: new Uint8Array(SMSN_SIZE).fill(0xff), apid: "", appKey: new Uint8Array(32), keys: {}, cas: {} };
    return SID_ERRORS.NONE;
  }

  deinit(): void {
    this.context = undefined;
  }

  /** dev_type already carries the `-PRODUCTION` suffix the CLI appends. */
  generateSmsn(devType: string, dsn: string, apid: string, boardId: string | undefined): { code: number; smsn?: Uint8Array } {
    const ctx = this.context;
    if (!ctx) return { code: SID_ERRORS.UNINITIALIZED };
    // The library resets every flag when a new SMSN is made, before it checks the arguments.
    ctx.state = 0;
    if (Buffer.byteLength(dsn, "latin1") + 1 > SERIAL_NUM_SIZE || Buffer.byteLength(apid, "latin1") !== APID_SIZE) {
      return { code: SID_ERRORS.INVALID_ARGS };
    }
    const smsn = sha256(Buffer.from(devType + dsn + apid + (boardId ?? ""), "latin1"));
    ctx.apid = apid;
    ctx.smsn = smsn;
    ctx.state |= FLAG.SMSN;
    return { code: SID_ERRORS.NONE, smsn };
  }

  generateCsr(curve: Curve): { code: number; csr?: Uint8Array } {
    const ctx = this.context;
    if (!ctx) return { code: SID_ERRORS.UNINITIALIZED };
    if ((ctx.state & FLAG.SMSN) === 0) return { code: SID_ERRORS.INVALID_STATE };
    ctx.state &= ~(CSR_FLAG[curve] | CHAIN_FLAG[curve]);
    const c = CURVES[curve];
    const privateKey = c.randomPrivateKey();
    const publicKey = c.publicKeyFromPrivate(privateKey);
    const signature = c.sign(toBeSigned(publicKey, ctx.smsn), privateKey);
    ctx.keys[curve] = { privateKey, publicKey };
    ctx.state |= CSR_FLAG[curve];
    return { code: SID_ERRORS.NONE, csr: concat(publicKey, ctx.smsn, signature) };
  }

  writeCertChain(curve: Curve, chain: Uint8Array): number {
    const ctx = this.context;
    if (!ctx) return SID_ERRORS.UNINITIALIZED;
    ctx.state &= ~CHAIN_FLAG[curve];
    if ((ctx.state & CSR_FLAG[curve]) === 0) return SID_ERRORS.INVALID_STATE;
    const limits = chainSizeLimits(curve);
    if (chain.length < limits.min || chain.length > limits.max) return SID_ERRORS.INVALID_ARGS;
    const c = CURVES[curve];
    let at = 0;
    const take = (n: number) => chain.subarray(at, (at += n));
    // commit checks: the chain must start with this device's SMSN and the key it generated.
    if (!equal(take(SMSN_SIZE), ctx.smsn)) return SID_ERRORS.INVALID_ARGS;
    const key = ctx.keys[curve]!;
    if (!equal(take(c.publicKeyLength), key.publicKey)) return SID_ERRORS.INVALID_ARGS;
    const deviceSignature = take(SIGNATURE_SIZE).slice();
    const cas: CaCert[] = [];
    for (let i = 0; i < CA_COUNT; i++) {
      const serialLength = firmwareSerialLength(chain.subarray(at, at + 2));
      if (at + serialLength + c.publicKeyLength + SIGNATURE_SIZE > chain.length) return SID_ERRORS.INVALID_ARGS;
      cas.push({ serial: take(serialLength).slice(), publicKey: take(c.publicKeyLength).slice(), signature: take(SIGNATURE_SIZE).slice() });
    }
    key.signature = deviceSignature;
    ctx.cas[curve] = cas;
    ctx.state |= CHAIN_FLAG[curve];
    return SID_ERRORS.NONE;
  }

  writeAppServerKey(key: Uint8Array): number {
    const ctx = this.context;
    if (!ctx) return SID_ERRORS.UNINITIALIZED;
    if (ctx.state & FLAG.APP_KEY) return SID_ERRORS.INVALID_STATE;
    ctx.appKey = key.slice();
    ctx.state |= FLAG.APP_KEY;
    return SID_ERRORS.NONE;
  }

  verifyAndStore(): number {
    const ctx = this.context;
    if (!ctx) return SID_ERRORS.UNINITIALIZED;
    if (ctx.state !== FULL) return SID_ERRORS.INVALID_STATE;
    const curves: Curve[] = ["ed25519", "p256r1"];
    // Device certificates against the DAK, then each CA against the next, the root against itself.
    for (const curve of curves) {
      const key = ctx.keys[curve]!;
      const dak = ctx.cas[curve]![0]!;
      if (!CURVES[curve].verify(key.signature!, toBeSigned(key.publicKey, ctx.smsn), dak.publicKey)) return SID_ERRORS.GENERIC;
    }
    for (let i = 0; i < CA_COUNT; i++) {
      for (const curve of curves) {
        const cas = ctx.cas[curve]!;
        const cert = cas[i]!;
        const issuer = cas[i === CA_COUNT - 1 ? i : i + 1]!;
        if (!CURVES[curve].verify(cert.signature, toBeSigned(cert.publicKey, cert.serial), issuer.publicKey)) return SID_ERRORS.GENERIC;
      }
    }
    const per = <T>(f: (curve: Curve) => T) => ({ ed25519: f("ed25519"), p256r1: f("p256r1") });
    this.stored = {
      smsn: toHex(ctx.smsn),
      apid: ctx.apid,
      appServerPublicKey: toHex(ctx.appKey),
      devicePublicKeys: per((c) => toHex(ctx.keys[c]!.publicKey)),
      deviceSignatures: per((c) => toHex(ctx.keys[c]!.signature!)),
      caSerials: per((c) => ctx.cas[c]!.map((ca) => toHex(ca.serial))),
      caPublicKeys: per((c) => ctx.cas[c]!.map((ca) => toHex(ca.publicKey))),
    };
    return SID_ERRORS.NONE;
  }
}
