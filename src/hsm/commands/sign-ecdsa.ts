// SIGN ECDSA: signs a digest the host computed (SHA-256 for Sidewalk); the device answers with
// a DER signature, which Sidewalk needs as raw r || s.
// https://developers.yubico.com/YubiHSM2/Commands/Sign_Ecdsa.html
import { p256 } from "@noble/curves/nist.js";
import { FormatError } from "../../lib/errors.ts";
import { concat, Reader } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { u16Of, type CommandCodec } from "./command.ts";
import type { SignRequest } from "./sign-eddsa.ts";

export const signEcdsa: CommandCodec<SignRequest, Uint8Array> = {
  code: CMD.SIGN_ECDSA,
  name: "sign-ecdsa",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Sign_Ecdsa.html",
  encodeRequest: (s) => concat(u16(s.keyId), s.data),
  decodeRequest(data) {
    const r = new Reader(data, "sign-ecdsa request");
    return { keyId: u16Of(r, "key id"), data: r.take(r.remaining, "digest") };
  },
  encodeResponse: (der) => der,
  decodeResponse: (der) => der,
};

/**
 * The device's DER `SEQUENCE { INTEGER r, INTEGER s }` as raw r || s (32 bytes each), parsed by
 * @noble/curves: strict DER (minimal, non-negative integers, no trailing bytes), 0 < r, s < n.
 */
export function derToRaw(der: Uint8Array): Uint8Array {
  try {
    return p256.Signature.fromBytes(der, "der").toBytes("compact");
  } catch (e) {
    throw new FormatError(`ecdsa signature: ${(e as Error).message}`, { cause: e });
  }
}
