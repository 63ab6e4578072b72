// SIGN EDDSA: pure Ed25519 over the data sent; 64-byte signature back.
// https://developers.yubico.com/YubiHSM2/Commands/Sign_Eddsa.html
import { Reader } from "../../lib/bytes.ts";
import { bytes, concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { u16Of, type CommandCodec } from "./command.ts";

export interface SignRequest {
  keyId: number;
  data: Uint8Array;
}

export const signEddsa: CommandCodec<SignRequest, Uint8Array> = {
  code: CMD.SIGN_EDDSA,
  name: "sign-eddsa",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Sign_Eddsa.html",
  encodeRequest: (s) => concat(u16(s.keyId), s.data),
  decodeRequest(data) {
    const r = new Reader(data, "sign-eddsa request");
    return { keyId: u16Of(r, "key id"), data: r.take(r.remaining, "data") };
  },
  encodeResponse: (signature) => signature,
  decodeResponse: (data) => bytes(data, 64, "sign-eddsa signature"),
};
