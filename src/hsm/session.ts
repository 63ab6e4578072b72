// One authenticated session with the HSM: creates and authenticates it (CREATE SESSION,
// AUTHENTICATE SESSION), then carries each command inside an encrypted, MAC-chained SESSION
// MESSAGE. Joins the transport (bytes over HTTP) and the secure channel (crypto) in one send().
import { randomBytes } from "node:crypto";
import { concat } from "../lib/bytes.ts";
import { FormatError } from "../lib/errors.ts";
import type { CommandCodec } from "./commands/command.ts";
import { closeSession } from "./commands/close-session.ts";
import { createSession } from "./commands/create-session.ts";
import { DEVICE_ERROR, HsmDeviceError, HsmPinRejectedError, HsmProtocolError, isDeviceError } from "./errors.ts";
import { CMD, COMMAND_NAMES, decodeFrame, encodeFrame, hex16, RESPONSE_FLAG } from "./protocol.ts";
import {
  authenticateSessionMessage,
  cardCryptogram,
  CHALLENGE_LENGTH,
  constantTimeEqual,
  deriveSessionKeys,
  MAX_COMMANDS_PER_SESSION,
  SecureChannel,
  type AuthKey,
} from "./secure-channel.ts";
import type { Connector } from "./transport.ts";

/** Anything that carries one message to the device and its answer back. */
export interface MessagePort {
  send(message: Uint8Array): Promise<Uint8Array>;
}

/** Reads a plain response frame: the device's error, or the payload of `code | 0x80`. */
export function readResponse(message: Uint8Array, code: number, context: string): Uint8Array {
  let frame;
  try {
    frame = decodeFrame(message, `${COMMAND_NAMES[code] ?? "command"} response`);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    throw new HsmProtocolError(`the answer to ${context} is not a YubiHSM message: ${e.message}`, { cause: e });
  }
  if (frame.code === CMD.ERROR) {
    if (frame.data.length !== 1) throw new HsmProtocolError(`${context}: error response of ${frame.data.length} bytes`);
    throw new HsmDeviceError(frame.data[0]!, context);
  }
  if (frame.code !== (code | RESPONSE_FLAG)) {
    throw new HsmProtocolError(`${context}: the device answered command 0x${frame.code.toString(16)} to 0x${code.toString(16)}`);
  }
  return frame.data;
}

/** A command outside any session (device info, echo, storage info). */
export async function sendPlain<Req, Rsp>(port: MessagePort, codec: CommandCodec<Req, Rsp>, request: Req): Promise<Rsp> {
  const answer = await port.send(encodeFrame(codec.code, codec.encodeRequest(request)));
  return codec.decodeResponse(readResponse(answer, codec.code, codec.name));
}

export class HsmSession {
  private queue: Promise<unknown> = Promise.resolve();
  private dead = false;

  private constructor(
    private readonly port: MessagePort,
    private readonly channel: SecureChannel,
    readonly authKeyId: number,
  ) {}

  get id(): number {
    return this.channel.sessionId;
  }

  /** Open, and with commands left: one is kept for CLOSE SESSION, so a spent session still closes on the device. */
  get usable(): boolean {
    return this.open && this.channel.commandsLeft > 1;
  }

  private get open(): boolean {
    return !this.dead && this.channel.isOpen;
  }

  /** Opens a session with the authentication key in `authKeyId`; a wrong key is a rejected PIN. */
  static async open(port: MessagePort | Connector, authKeyId: number, authKey: AuthKey, maxCommands = MAX_COMMANDS_PER_SESSION): Promise<HsmSession> {
    const hostChallenge = new Uint8Array(randomBytes(CHALLENGE_LENGTH));
    const context = `create-session with authentication key ${hex16(authKeyId)}`;
    const created = await sendPlain(port, { ...createSession, name: context }, { authKeyId, hostChallenge });
    const challenge = concat(hostChallenge, created.cardChallenge);
    const keys = deriveSessionKeys(authKey, challenge);
    if (!constantTimeEqual(cardCryptogram(keys, challenge), created.cardCryptogram)) {
      // The device keeps the half-open session until its idle timeout; nothing to close.
      throw new HsmPinRejectedError(authKeyId);
    }
    const { message, chain } = authenticateSessionMessage(created.sessionId, keys, challenge);
    try {
      readResponse(await port.send(message), CMD.AUTHENTICATE_SESSION, "authenticate-session");
    } catch (e) {
      if (isDeviceError(e, "AUTHENTICATION_FAILED")) throw new HsmPinRejectedError(authKeyId);
      throw e;
    }
    return new HsmSession(port, new SecureChannel(created.sessionId, keys, chain, maxCommands), authKeyId);
  }

  /** Sends one command in the session; commands of one session go one at a time. */
  send<Req, Rsp>(codec: CommandCodec<Req, Rsp>, request: Req, context = codec.name, closing = false): Promise<Rsp> {
    const run = this.queue.then(() => this.exchange(codec, request, context, closing));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async exchange<Req, Rsp>(codec: CommandCodec<Req, Rsp>, request: Req, context: string, closing: boolean): Promise<Rsp> {
    if (!(closing ? this.open : this.usable)) throw new HsmDeviceError(DEVICE_ERROR.INVALID_SESSION, `${context} (session ${this.id} already closed)`);
    const outer = this.channel.wrapCommand(encodeFrame(codec.code, codec.encodeRequest(request)));
    let answer: Uint8Array;
    try {
      answer = await this.port.send(outer);
    } catch (e) {
      this.abandon();
      throw e;
    }
    if (answer[0] === CMD.ERROR) {
      // An error outside the channel (session timed out or failed on the device): it is gone.
      this.abandon();
      readResponse(answer, CMD.SESSION_MESSAGE, `${context} in session ${this.id}`);
    }
    if (answer[0] !== (CMD.SESSION_MESSAGE | RESPONSE_FLAG)) {
      this.abandon();
      throw new HsmProtocolError(`${context}: the device answered command 0x${answer[0]?.toString(16)} to a session message`);
    }
    const inner = this.channel.unwrapResponse(answer);
    return codec.decodeResponse(readResponse(inner, codec.code, context));
  }

  private abandon(): void {
    this.dead = true;
    this.channel.wipe();
  }

  /** Closes the session on the device (best effort) and wipes its keys. */
  async close(): Promise<void> {
    if (!this.open) return;
    try {
      await this.send(closeSession, undefined, closeSession.name, true);
    } catch {
      // The device drops it after 30 s idle anyway.
    } finally {
      this.abandon();
    }
  }
}
