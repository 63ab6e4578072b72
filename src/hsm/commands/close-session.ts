// CLOSE SESSION: ends the current session and frees its slot on the device.
// https://developers.yubico.com/YubiHSM2/Commands/Close_Session.html
import { CMD } from "../protocol.ts";
import { empty, EMPTY, type CommandCodec } from "./command.ts";

export const closeSession: CommandCodec<void, void> = {
  code: CMD.CLOSE_SESSION,
  name: "close-session",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Close_Session.html",
  encodeRequest: () => EMPTY,
  decodeRequest: empty("close-session request"),
  encodeResponse: () => EMPTY,
  decodeResponse: empty("close-session response"),
};
