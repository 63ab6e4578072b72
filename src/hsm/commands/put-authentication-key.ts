// PUT AUTHENTICATION KEY: a new session key (K-ENC, K-MAC) with its delegated capabilities.
// https://developers.yubico.com/YubiHSM2/Commands/Put_Authentication_Key.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16, u64 } from "../protocol.ts";
import { decodeId, decodeNewObject, encodeNewObject, u64Of, type CommandCodec, type NewObject } from "./command.ts";

export interface PutAuthenticationKeyRequest extends NewObject {
  delegatedCapabilities: bigint;
  encKey: Uint8Array;
  macKey: Uint8Array;
}

export const putAuthenticationKey: CommandCodec<PutAuthenticationKeyRequest, number> = {
  code: CMD.PUT_AUTHENTICATION_KEY,
  name: "put-authentication-key",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Put_Authentication_Key.html",
  encodeRequest: (k) => concat(encodeNewObject(k), u64(k.delegatedCapabilities), k.encKey, k.macKey),
  decodeRequest(data) {
    const r = new Reader(data, "put-authentication-key request");
    const head = decodeNewObject(r);
    const out = { ...head, delegatedCapabilities: u64Of(r, "delegated capabilities"), encKey: r.take(16, "K-ENC"), macKey: r.take(16, "K-MAC") };
    r.end();
    return out;
  },
  encodeResponse: (id) => u16(id),
  decodeResponse: (data) => decodeId(data, "put-authentication-key response"),
};
