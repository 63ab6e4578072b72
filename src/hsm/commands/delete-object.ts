// DELETE OBJECT: removes one object (id and type). https://developers.yubico.com/YubiHSM2/Commands/Delete_Object.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { byteOf, empty, EMPTY, u16Of, type CommandCodec } from "./command.ts";
import type { ObjectId } from "./get-object-info.ts";

export const deleteObject: CommandCodec<ObjectId, void> = {
  code: CMD.DELETE_OBJECT,
  name: "delete-object",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Delete_Object.html",
  encodeRequest: (o) => concat(u16(o.id), new Uint8Array([o.type])),
  decodeRequest(data) {
    const r = new Reader(data, "delete-object request");
    const out = { id: u16Of(r, "object id"), type: byteOf(r, "object type") };
    r.end();
    return out;
  },
  encodeResponse: () => EMPTY,
  decodeResponse: empty("delete-object response"),
};
