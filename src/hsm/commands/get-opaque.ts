// GET OPAQUE: the data of an opaque object. https://developers.yubico.com/YubiHSM2/Commands/Get_Opaque.html
import { Reader } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { u16Of, type CommandCodec } from "./command.ts";

export const getOpaque: CommandCodec<number, Uint8Array> = {
  code: CMD.GET_OPAQUE,
  name: "get-opaque",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Get_Opaque.html",
  encodeRequest: (id) => u16(id),
  decodeRequest(data) {
    const r = new Reader(data, "get-opaque request");
    const id = u16Of(r, "object id");
    r.end();
    return id;
  },
  encodeResponse: (data) => data,
  decodeResponse: (data) => data,
};
