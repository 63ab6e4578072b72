// GENERATE ASYMMETRIC KEY: the device makes the key pair; the private key never leaves it.
// https://developers.yubico.com/YubiHSM2/Commands/Generate_Asymmetric_Key.html
import { Reader } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { decodeId, decodeNewObject, encodeNewObject, type CommandCodec, type NewObject } from "./command.ts";

export const generateAsymmetricKey: CommandCodec<NewObject, number> = {
  code: CMD.GENERATE_ASYMMETRIC_KEY,
  name: "generate-asymmetric-key",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Generate_Asymmetric_Key.html",
  encodeRequest: encodeNewObject,
  decodeRequest(data) {
    const r = new Reader(data, "generate-asymmetric-key request");
    const head = decodeNewObject(r);
    r.end();
    return head;
  },
  encodeResponse: (id) => u16(id),
  decodeResponse: (data) => decodeId(data, "generate-asymmetric-key response"),
};
