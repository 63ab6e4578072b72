// PUT OPAQUE: stores arbitrary data (here: Sidewalk certificate parts and layout markers).
// https://developers.yubico.com/YubiHSM2/Commands/Put_Opaque.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { decodeId, decodeNewObject, encodeNewObject, type CommandCodec, type NewObject } from "./command.ts";

export interface PutOpaqueRequest extends NewObject {
  data: Uint8Array;
}

export const putOpaque: CommandCodec<PutOpaqueRequest, number> = {
  code: CMD.PUT_OPAQUE,
  name: "put-opaque",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Put_Opaque.html",
  encodeRequest: (o) => concat(encodeNewObject(o), o.data),
  decodeRequest(data) {
    const r = new Reader(data, "put-opaque request");
    const head = decodeNewObject(r);
    return { ...head, data: r.take(r.remaining, "data") };
  },
  encodeResponse: (id) => u16(id),
  decodeResponse: (data) => decodeId(data, "put-opaque response"),
};
