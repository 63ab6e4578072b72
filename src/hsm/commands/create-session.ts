// CREATE SESSION: host challenge in, session id, card challenge and card cryptogram out.
// https://developers.yubico.com/YubiHSM2/Commands/Create_Session.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { CHALLENGE_LENGTH, CRYPTOGRAM_LENGTH } from "../secure-channel.ts";
import { byteOf, u16Of, type CommandCodec } from "./command.ts";

export interface CreateSessionRequest {
  authKeyId: number;
  hostChallenge: Uint8Array;
}

export interface CreateSessionResponse {
  sessionId: number;
  cardChallenge: Uint8Array;
  cardCryptogram: Uint8Array;
}

export const createSession: CommandCodec<CreateSessionRequest, CreateSessionResponse> = {
  code: CMD.CREATE_SESSION,
  name: "create-session",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Create_Session.html",
  encodeRequest: (r) => concat(u16(r.authKeyId), r.hostChallenge),
  decodeRequest(data) {
    const r = new Reader(data, "create-session request");
    const authKeyId = u16Of(r, "authentication key id");
    const hostChallenge = r.take(CHALLENGE_LENGTH, "host challenge");
    r.end();
    return { authKeyId, hostChallenge };
  },
  encodeResponse: (s) => concat(new Uint8Array([s.sessionId]), s.cardChallenge, s.cardCryptogram),
  decodeResponse(data) {
    const r = new Reader(data, "create-session response");
    const out = { sessionId: byteOf(r, "session id"), cardChallenge: r.take(CHALLENGE_LENGTH, "card challenge"), cardCryptogram: r.take(CRYPTOGRAM_LENGTH, "card cryptogram") };
    r.end();
    return out;
  },
};
