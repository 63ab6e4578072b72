// The simulated YubiHSM 2: takes one raw message (as `POST /connector/api` carries it) and
// answers as the device would, errors included. Plain commands: echo, device info, create and
// authenticate session; everything else inside an encrypted session message.
import { FormatError } from "../../lib/errors.ts";
import { DEVICE_ERROR, deviceErrorName } from "../errors.ts";
import { CMD, COMMAND_NAMES, decodeFrame, encodeFrame, OBJECT_TYPE, RESPONSE_FLAG, SESSION_IDLE_TIMEOUT_MS } from "../protocol.ts";
import { SecureChannelError } from "../secure-channel.ts";
import { DeviceFault, type CommandContext } from "./access.ts";
import { infoCommands } from "./info-commands.ts";
import { keyCommands } from "./key-commands.ts";
import { objectCommands } from "./object-commands.ts";
import { SessionTable } from "./sessions.ts";
import { DeviceState } from "./state.ts";

type Handler = (ctx: CommandContext, data: Uint8Array) => Uint8Array;

const SESSION_COMMANDS: Record<number, Handler> = {
  ...infoCommands,
  ...objectCommands,
  ...keyCommands,
  [CMD.CLOSE_SESSION]: () => new Uint8Array(0),
};

const PLAIN_COMMANDS = new Set<number>([CMD.ECHO, CMD.DEVICE_INFO]);

export interface SimulatedHsmOptions {
  state?: DeviceState;
  /** Where to persist objects (atomically) after every change. */
  statePath?: string;
  idleTimeoutMs?: number;
  /** One line per command (command, session, object id, result); never key material. */
  log?: (line: string) => void;
}

export interface Handled {
  response: Uint8Array;
  /** The command the device ran (inner command of a session message), for the latency model. */
  code: number;
  payloadLength: number;
}

const errorFrame = (code: number) => encodeFrame(CMD.ERROR, new Uint8Array([code]));

export class SimulatedHsm {
  readonly state: DeviceState;
  readonly sessions: SessionTable;
  private readonly statePath: string | undefined;
  private readonly log: ((line: string) => void) | undefined;

  constructor(options: SimulatedHsmOptions = {}) {
    this.statePath = options.statePath;
    this.state = options.state ?? (this.statePath ? DeviceState.load(this.statePath) : undefined) ?? DeviceState.factory();
    if (this.statePath) this.state.save(this.statePath);
    this.sessions = new SessionTable(options.idleTimeoutMs ?? SESSION_IDLE_TIMEOUT_MS);
    this.log = options.log;
  }

  private context(authKeyId: number | undefined): CommandContext {
    return {
      state: this.state,
      authKey: authKeyId === undefined ? undefined : this.state.get(OBJECT_TYPE.AUTHENTICATION_KEY, authKeyId),
      persist: () => {
        if (this.statePath) this.state.save(this.statePath);
      },
    };
  }

  /** Runs a command frame's handler; a fault becomes the device's error frame. */
  private run(table: Record<number, Handler>, code: number, data: Uint8Array, ctx: CommandContext, where: string): Uint8Array {
    const handler = table[code];
    let response: Uint8Array;
    try {
      if (!handler) throw new DeviceFault(DEVICE_ERROR.INVALID_COMMAND, "unknown command");
      response = encodeFrame(code | RESPONSE_FLAG, handler(ctx, data));
    } catch (e) {
      response = errorFrame(this.faultCode(e));
    }
    this.note(where, code, ctx.target, response);
    return response;
  }

  private faultCode(e: unknown): number {
    if (e instanceof DeviceFault) return e.code;
    if (e instanceof FormatError) return DEVICE_ERROR.INVALID_DATA;
    throw e;
  }

  private note(where: string, code: number, target: string | undefined, response: Uint8Array): void {
    if (!this.log) return;
    const result = response[0] === CMD.ERROR ? `error ${deviceErrorName(response[3]!)}` : "ok";
    this.log(`${where} ${COMMAND_NAMES[code] ?? `0x${code.toString(16)}`}${target ? ` ${target}` : ""}: ${result}`);
  }

  handle(message: Uint8Array): Handled {
    let frame;
    try {
      frame = decodeFrame(message, "command");
    } catch {
      return { response: errorFrame(DEVICE_ERROR.WRONG_LENGTH), code: message[0] ?? 0, payloadLength: 0 };
    }
    const { code, data } = frame;
    const done = (response: Uint8Array) => ({ response, code, payloadLength: data.length });
    try {
      if (code === CMD.CREATE_SESSION) {
        const response = encodeFrame(CMD.CREATE_SESSION | RESPONSE_FLAG, this.sessions.create(this.state, data));
        this.note("plain", code, undefined, response);
        return done(response);
      }
      if (code === CMD.AUTHENTICATE_SESSION) {
        this.sessions.authenticate(message);
        const response = encodeFrame(CMD.AUTHENTICATE_SESSION | RESPONSE_FLAG);
        this.note(`session ${data[0]}`, code, undefined, response);
        return done(response);
      }
      if (code === CMD.SESSION_MESSAGE) return this.sessionMessage(message);
    } catch (e) {
      const response = errorFrame(this.faultCode(e));
      this.note("plain", code, undefined, response);
      return done(response);
    }
    if (!PLAIN_COMMANDS.has(code)) {
      const response = errorFrame(DEVICE_ERROR.INVALID_COMMAND);
      this.note("plain", code, undefined, response);
      return done(response);
    }
    return done(this.run(infoCommands, code, data, this.context(undefined), "plain"));
  }

  private sessionMessage(message: Uint8Array): Handled {
    const { channel, authKeyId } = this.sessions.session(message);
    let inner: Uint8Array;
    try {
      inner = channel.unwrapCommand(message);
    } catch (e) {
      if (!(e instanceof SecureChannelError)) throw e;
      // A message that fails its MAC ends the session, as on the device.
      this.sessions.close(channel.sessionId);
      throw new DeviceFault(DEVICE_ERROR.SESSION_FAILED, e.message);
    }
    let frame;
    try {
      frame = decodeFrame(inner, "inner command");
    } catch {
      return { response: channel.wrapResponse(errorFrame(DEVICE_ERROR.WRONG_LENGTH)), code: CMD.SESSION_MESSAGE, payloadLength: 0 };
    }
    const ctx = this.context(authKeyId);
    if (!ctx.authKey) {
      // Its authentication key was deleted while the session was open.
      this.sessions.close(channel.sessionId);
      throw new DeviceFault(DEVICE_ERROR.INVALID_SESSION, "authentication key gone");
    }
    const response = this.run(SESSION_COMMANDS, frame.code, frame.data, ctx, `session ${channel.sessionId}`);
    const wrapped = channel.wrapResponse(response);
    if (frame.code === CMD.CLOSE_SESSION) this.sessions.close(channel.sessionId);
    return { response: wrapped, code: frame.code, payloadLength: frame.data.length };
  }
}
