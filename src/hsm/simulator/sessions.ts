// The simulated device's session table: 16 slots, CREATE SESSION and AUTHENTICATE SESSION from
// the card's side (same secure-channel code as the client), and the 30-second idle timeout, which
// also frees a slot left half-open (created, never authenticated) or whose authentication failed.
import { randomBytes } from "node:crypto";
import { concat } from "../../lib/bytes.ts";
import { createSession } from "../commands/create-session.ts";
import { CMD, decodeFrame, MAX_SESSIONS, OBJECT_TYPE } from "../protocol.ts";
import {
  authenticateSessionMessage,
  cardCryptogram,
  CHALLENGE_LENGTH,
  constantTimeEqual,
  deriveSessionKeys,
  SecureChannel,
  type SessionKeys,
} from "../secure-channel.ts";
import { fault } from "./access.ts";
import type { DeviceState } from "./state.ts";

interface Slot {
  id: number;
  authKeyId: number;
  context: Uint8Array;
  keys: SessionKeys;
  channel: SecureChannel | undefined;
  lastUsed: number;
  /** Authentication failed: the slot stays taken until it times out. */
  failed?: boolean;
}

export class SessionTable {
  private readonly slots: (Slot | undefined)[] = new Array(MAX_SESSIONS).fill(undefined);

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  private expire(): void {
    const t = this.now();
    this.slots.forEach((s, i) => {
      if (s && t - s.lastUsed > this.idleTimeoutMs) this.free(i);
    });
  }

  private free(i: number): void {
    this.slots[i]?.channel?.wipe();
    this.slots[i] = undefined;
  }

  get inUse(): number {
    this.expire();
    return this.slots.filter(Boolean).length;
  }

  create(state: DeviceState, data: Uint8Array): Uint8Array {
    this.expire();
    const { authKeyId, hostChallenge } = createSession.decodeRequest(data);
    const key = state.get(OBJECT_TYPE.AUTHENTICATION_KEY, authKeyId);
    if (!key) throw fault("OBJECT_NOT_FOUND", `no authentication key ${authKeyId}`);
    const index = this.slots.findIndex((s) => !s);
    if (index < 0) throw fault("SESSIONS_FULL", "16 sessions in use");
    const cardChallenge = new Uint8Array(randomBytes(CHALLENGE_LENGTH));
    const context = concat(hostChallenge, cardChallenge);
    const keys = deriveSessionKeys({ encKey: key.data.subarray(0, 16), macKey: key.data.subarray(16, 32) }, context);
    this.slots[index] = { id: index, authKeyId, context, keys, channel: undefined, lastUsed: this.now() };
    return createSession.encodeResponse({ sessionId: index, cardChallenge, cardCryptogram: cardCryptogram(keys, context) });
  }

  authenticate(message: Uint8Array): void {
    this.expire();
    const frame = decodeFrame(message, "authenticate-session");
    if (frame.data.length !== 17) throw fault("WRONG_LENGTH", "authenticate-session length");
    const slot = this.slots[frame.data[0]!];
    if (!slot || slot.channel || slot.failed) throw fault("INVALID_SESSION", "no session awaiting authentication");
    const expected = authenticateSessionMessage(slot.id, slot.keys, slot.context);
    if (!constantTimeEqual(expected.message, message)) {
      // As on the device, the slot is not freed: it stays taken until the idle timeout (30 s).
      slot.failed = true;
      throw fault("AUTHENTICATION_FAILED", "host cryptogram or MAC refused");
    }
    slot.channel = new SecureChannel(slot.id, slot.keys, expected.chain);
    slot.lastUsed = this.now();
  }

  /** The authenticated session a SESSION MESSAGE names, or INVALID_SESSION. */
  session(message: Uint8Array): { channel: SecureChannel; authKeyId: number } {
    this.expire();
    if (message.length < 4 || message[0] !== CMD.SESSION_MESSAGE) throw fault("INVALID_DATA", "not a session message");
    const slot = this.slots[message[3]!];
    if (!slot?.channel?.isOpen) throw fault("INVALID_SESSION", `session ${message[3]} is not open`);
    slot.lastUsed = this.now();
    return { channel: slot.channel, authKeyId: slot.authKeyId };
  }

  close(id: number): void {
    this.free(id);
  }

  closeAll(): void {
    for (let i = 0; i < MAX_SESSIONS; i++) this.free(i);
  }
}
