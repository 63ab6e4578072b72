// PUT ASYMMETRIC KEY: imports a private key (Ed25519 seed or EC scalar, big-endian).
// https://developers.yubico.com/YubiHSM2/Commands/Put_Asymmetric_Key.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { decodeId, decodeNewObject, encodeNewObject, type CommandCodec, type NewObject } from "./command.ts";

export interface PutAsymmetricKeyRequest extends NewObject {
  privateKey: Uint8Array;
}

export const putAsymmetricKey: CommandCodec<PutAsymmetricKeyRequest, number> = {
  code: CMD.PUT_ASYMMETRIC_KEY,
  name: "put-asymmetric-key",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Put_Asymmetric_Key.html",
  encodeRequest: (k) => concat(encodeNewObject(k), k.privateKey),
  decodeRequest(data) {
    const r = new Reader(data, "put-asymmetric-key request");
    const head = decodeNewObject(r);
    return { ...head, privateKey: r.take(r.remaining, "private key") };
  },
  encodeResponse: (id) => u16(id),
  decodeResponse: (data) => decodeId(data, "put-asymmetric-key response"),
};
