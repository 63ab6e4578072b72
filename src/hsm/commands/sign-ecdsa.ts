// SIGN ECDSA: signs a digest the host computed (SHA-256 for Sidewalk); the device answers with
// a DER signature, which Sidewalk needs as raw r || s.
// https://developers.yubico.com/YubiHSM2/Commands/Sign_Ecdsa.html
import { FormatError } from "../../lib/errors.ts";
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { byteOf, u16Of, type CommandCodec } from "./command.ts";
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

function derInteger(r: Reader, name: string, size: number): Uint8Array {
  if (byteOf(r, `${name} tag`) !== 0x02) throw new FormatError(`ecdsa signature: ${name} is not a DER INTEGER`);
  const length = byteOf(r, `${name} length`);
  const value = r.take(length, name);
  if (length === 0 || value[0]! & 0x80) throw new FormatError(`ecdsa signature: ${name} is empty or negative`);
  if (length > 1 && value[0] === 0 && !(value[1]! & 0x80)) throw new FormatError(`ecdsa signature: ${name} is not minimally encoded`);
  const trimmed = value[0] === 0 ? value.subarray(1) : value;
  if (trimmed.length > size) throw new FormatError(`ecdsa signature: ${name} is longer than ${size} bytes`);
  const out = new Uint8Array(size);
  out.set(trimmed, size - trimmed.length);
  return out;
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` to raw r || s of `size` bytes each (strict DER). */
export function derToRaw(der: Uint8Array, size = 32): Uint8Array {
  const r = new Reader(der, "ecdsa signature");
  if (byteOf(r, "sequence tag") !== 0x30) throw new FormatError("ecdsa signature: not a DER SEQUENCE");
  const length = byteOf(r, "sequence length");
  if (length & 0x80 || length !== r.remaining) throw new FormatError(`ecdsa signature: sequence length ${length} does not match the ${r.remaining} bytes present`);
  const out = concat(derInteger(r, "r", size), derInteger(r, "s", size));
  r.end();
  return out;
}
