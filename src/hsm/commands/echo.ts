// ECHO: the device returns the data it was sent. https://developers.yubico.com/YubiHSM2/Commands/Echo.html
import { CMD } from "../protocol.ts";
import type { CommandCodec } from "./command.ts";

export const echo: CommandCodec<Uint8Array, Uint8Array> = {
  code: CMD.ECHO,
  name: "echo",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Echo.html",
  encodeRequest: (data) => data,
  decodeRequest: (data) => data,
  encodeResponse: (data) => data,
  decodeResponse: (data) => data,
};
