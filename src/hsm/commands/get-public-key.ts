// GET PUBLIC KEY: algorithm and public key of an asymmetric key (Ed25519: 32 bytes; EC: X || Y).
// https://developers.yubico.com/YubiHSM2/Commands/Get_Public_Key.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { byteOf, u16Of, type CommandCodec } from "./command.ts";

export interface PublicKey {
  algorithm: number;
  key: Uint8Array;
}

export const getPublicKey: CommandCodec<number, PublicKey> = {
  code: CMD.GET_PUBLIC_KEY,
  name: "get-public-key",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Get_Public_Key.html",
  encodeRequest: (id) => u16(id),
  decodeRequest(data) {
    const r = new Reader(data, "get-public-key request");
    const id = u16Of(r, "object id");
    r.end();
    return id;
  },
  encodeResponse: (k) => concat(new Uint8Array([k.algorithm]), k.key),
  decodeResponse(data) {
    const r = new Reader(data, "get-public-key response");
    return { algorithm: byteOf(r, "algorithm"), key: r.take(r.remaining, "public key") };
  },
};
