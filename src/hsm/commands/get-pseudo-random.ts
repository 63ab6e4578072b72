// GET PSEUDO RANDOM: bytes from the device's DRBG. https://developers.yubico.com/YubiHSM2/Commands/Get_Pseudo_Random.html
import { Reader } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { u16Of, type CommandCodec } from "./command.ts";

export const getPseudoRandom: CommandCodec<number, Uint8Array> = {
  code: CMD.GET_PSEUDO_RANDOM,
  name: "get-pseudo-random",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Get_Pseudo_Random.html",
  encodeRequest: (length) => u16(length),
  decodeRequest(data) {
    const r = new Reader(data, "get-pseudo-random request");
    const length = u16Of(r, "length");
    r.end();
    return length;
  },
  encodeResponse: (data) => data,
  decodeResponse: (data) => data,
};
