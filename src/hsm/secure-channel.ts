// The YubiHSM 2 secure channel (Global Platform SCP03 as Yubico applies it), for both ends:
// the host (swtool's client) and the card (the simulator). It knows nothing of HTTP.
// - Authentication key from a password: PBKDF2-HMAC-SHA256, salt "Yubico", 10000 iterations,
//   32 bytes = K-ENC || K-MAC (Yubico, "Concept: Session"; python-yubihsm utils.password_to_key).
// - Session keys S-ENC, S-MAC, S-RMAC and the card/host cryptograms: NIST SP 800-108 KDF in
//   counter mode with AES-CMAC, derivation constants 0x04/0x06/0x07/0x00/0x01, context =
//   host challenge || card challenge (SCP03 section 6.2.2; Yubico "Create Session").
// - Session messages: payload padded 0x80 00.., AES-CBC with IV = AES-ECB(S-ENC, counter),
//   C-MAC = CMAC(S-MAC, chain || message) of which 8 bytes are sent, the full 16 become the next
//   chain; R-MAC = CMAC(S-RMAC, chain || response)[0..8] (Yubico "Session Message").
import { createCipheriv, createDecipheriv, pbkdf2Sync, timingSafeEqual } from "node:crypto";
import { SwtoolError } from "../lib/errors.ts";
import { bytes, concat } from "../lib/bytes.ts";
import { CMD, decodeFrame, encodeFrame } from "./protocol.ts";

export const BLOCK = 16;
export const CHALLENGE_LENGTH = 8;
export const CRYPTOGRAM_LENGTH = 8;
export const MAC_LENGTH = 8;

const KDF_ENC = 0x04;
const KDF_MAC = 0x06;
const KDF_RMAC = 0x07;
const KDF_CARD_CRYPTOGRAM = 0x00;
const KDF_HOST_CRYPTOGRAM = 0x01;

/** A MAC or padding failure: the session is finished and its keys wiped. */
export class SecureChannelError extends SwtoolError {}

export interface AuthKey {
  encKey: Uint8Array;
  macKey: Uint8Array;
}

export interface SessionKeys {
  enc: Uint8Array;
  mac: Uint8Array;
  rmac: Uint8Array;
}

/** The long-lived authentication key a password stands for. */
export function deriveAuthKey(password: string): AuthKey {
  const key = new Uint8Array(pbkdf2Sync(Buffer.from(password, "utf8"), "Yubico", 10000, 32, "sha256"));
  return { encKey: key.slice(0, 16), macKey: key.slice(16, 32) };
}

function aesName(key: Uint8Array, mode: "ecb" | "cbc"): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError(`AES key of ${key.length} bytes`);
  return `aes-${key.length * 8}-${mode}`;
}

const ZERO_IV = new Uint8Array(BLOCK);

function cbcRaw(key: Uint8Array, iv: Uint8Array, data: Uint8Array, decrypt = false): Uint8Array {
  const c = decrypt ? createDecipheriv(aesName(key, "cbc"), key, iv) : createCipheriv(aesName(key, "cbc"), key, iv);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

function ecbBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  const c = createCipheriv(aesName(key, "ecb"), key, null);
  c.setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(block), c.final()]));
}

function double(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

/** AES-CMAC (NIST SP 800-38B, RFC 4493) over the concatenation of `parts`. */
export function cmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const message = parts.length === 1 ? parts[0]! : concat(...parts);
  const l = ecbBlock(key, ZERO_IV);
  const k1 = double(l);
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const padded = complete ? new Uint8Array(message) : pad(message);
  const last = padded.length - BLOCK;
  const subkey = complete ? k1 : double(k1);
  for (let i = 0; i < BLOCK; i++) padded[last + i]! ^= subkey[i]!;
  return cbcRaw(key, ZERO_IV, padded).slice(-BLOCK);
}

/** ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to a whole block (always adds a byte). */
export function pad(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + BLOCK - (data.length % BLOCK));
  out.set(data);
  out[data.length] = 0x80;
  return out;
}

export function unpad(data: Uint8Array): Uint8Array {
  let end = data.length - 1;
  while (end >= 0 && data[end] === 0) end--;
  if (end < 0 || data[end] !== 0x80) throw new SecureChannelError("secure channel: decrypted message has no 0x80 padding marker");
  return data.subarray(0, end);
}

/** SP 800-108 counter-mode KDF with AES-CMAC, as SCP03 lays out its derivation data. */
export function kdf(key: Uint8Array, constant: number, context: Uint8Array, bits: 64 | 128): Uint8Array {
  const label = new Uint8Array(16);
  label[11] = constant;
  label[12] = 0x00;
  label[13] = bits >> 8;
  label[14] = bits & 0xff;
  label[15] = 0x01;
  return cmac(key, label, context).slice(0, bits / 8);
}

export function deriveSessionKeys(auth: AuthKey, context: Uint8Array): SessionKeys {
  bytes(context, 2 * CHALLENGE_LENGTH, "session context");
  return {
    enc: kdf(auth.encKey, KDF_ENC, context, 128),
    mac: kdf(auth.macKey, KDF_MAC, context, 128),
    rmac: kdf(auth.macKey, KDF_RMAC, context, 128),
  };
}

export const cardCryptogram = (keys: SessionKeys, context: Uint8Array) => kdf(keys.mac, KDF_CARD_CRYPTOGRAM, context, 64);
export const hostCryptogram = (keys: SessionKeys, context: Uint8Array) => kdf(keys.mac, KDF_HOST_CRYPTOGRAM, context, 64);

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The AUTHENTICATE SESSION message (host cryptogram, C-MAC over a zero chain) and the MAC chain
 * both ends continue from.
 */
export function authenticateSessionMessage(sessionId: number, keys: SessionKeys, context: Uint8Array): { message: Uint8Array; chain: Uint8Array } {
  const body = encodeFrame(CMD.AUTHENTICATE_SESSION, concat(new Uint8Array([sessionId]), hostCryptogram(keys, context), new Uint8Array(MAC_LENGTH)));
  const unsigned = body.subarray(0, body.length - MAC_LENGTH);
  const chain = cmac(keys.mac, ZERO_IV, unsigned);
  body.set(chain.subarray(0, MAC_LENGTH), unsigned.length);
  return { message: body, chain };
}

/**
 * Commands one session may carry, as yubihsm.rs caps them: the IV counter is 32 bits, and a
 * session this old is retired long before it could wrap.
 */
export const MAX_COMMANDS_PER_SESSION = 2 ** 20;

/**
 * An established secure channel. The host wraps commands and unwraps responses; the card
 * (simulator) unwraps commands and wraps responses. Any failure wipes the keys.
 */
export class SecureChannel {
  private counter = 1;
  private pendingChain: Uint8Array | undefined;
  private closed = false;

  constructor(
    readonly sessionId: number,
    private keys: SessionKeys,
    private chain: Uint8Array,
    readonly maxCommands = MAX_COMMANDS_PER_SESSION,
  ) {}

  /** Commands this channel may still wrap (host side). */
  get commandsLeft(): number {
    return this.maxCommands - (this.counter - 1);
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  wipe(): void {
    for (const k of [this.keys.enc, this.keys.mac, this.keys.rmac, this.chain]) k.fill(0);
    this.closed = true;
  }

  private fail(message: string): never {
    this.wipe();
    throw new SecureChannelError(message, { advice: "the session was dropped; a new one is needed (check the connection to the HSM for tampering or corruption)" });
  }

  private iv(): Uint8Array {
    const block = new Uint8Array(BLOCK);
    new DataView(block.buffer).setUint32(12, this.counter);
    return ecbBlock(this.keys.enc, block);
  }

  private assertOpen(): void {
    if (this.closed) throw new SecureChannelError(`secure channel of session ${this.sessionId} is closed`);
  }

  /** Host: the SESSION MESSAGE carrying `inner` (a plain command frame). */
  wrapCommand(inner: Uint8Array): Uint8Array {
    this.assertOpen();
    if (this.commandsLeft <= 0) this.fail(`secure channel: session ${this.sessionId} has carried its ${this.maxCommands} commands`);
    const encrypted = cbcRaw(this.keys.enc, this.iv(), pad(inner));
    const head = encodeFrame(CMD.SESSION_MESSAGE, concat(new Uint8Array([this.sessionId]), encrypted, new Uint8Array(MAC_LENGTH)));
    const unsigned = head.subarray(0, head.length - MAC_LENGTH);
    const next = cmac(this.keys.mac, this.chain, unsigned);
    head.set(next.subarray(0, MAC_LENGTH), unsigned.length);
    this.pendingChain = next;
    return head;
  }

  /** Host: checks the R-MAC of a SESSION MESSAGE response and returns the inner frame bytes. */
  unwrapResponse(outer: Uint8Array): Uint8Array {
    this.assertOpen();
    const next = this.pendingChain;
    if (!next) throw new SecureChannelError("secure channel: response without a command");
    this.pendingChain = undefined;
    const frame = decodeFrame(outer, "session response");
    if (frame.data.length < 1 + BLOCK + MAC_LENGTH || (frame.data.length - 1 - MAC_LENGTH) % BLOCK !== 0) {
      this.fail(`secure channel: session response of ${frame.data.length} bytes is malformed`);
    }
    if (frame.data[0] !== this.sessionId) this.fail(`secure channel: response is for session ${frame.data[0]}, not ${this.sessionId}`);
    const macStart = outer.length - MAC_LENGTH;
    const expected = cmac(this.keys.rmac, next, outer.subarray(0, macStart)).subarray(0, MAC_LENGTH);
    if (!constantTimeEqual(expected, outer.subarray(macStart))) this.fail("secure channel: the response MAC does not verify");
    let plain: Uint8Array;
    try {
      plain = unpad(cbcRaw(this.keys.enc, this.iv(), frame.data.subarray(1, frame.data.length - MAC_LENGTH), true));
    } catch (e) {
      // A response that authenticates but does not decrypt: the card side wipes here too.
      this.fail((e as Error).message);
    }
    this.chain = next;
    this.counter++;
    return plain;
  }

  /** Card: checks the C-MAC of a SESSION MESSAGE and returns the inner command frame bytes. */
  unwrapCommand(outer: Uint8Array): Uint8Array {
    this.assertOpen();
    const frame = decodeFrame(outer, "session message");
    if (frame.data.length < 1 + BLOCK + MAC_LENGTH || (frame.data.length - 1 - MAC_LENGTH) % BLOCK !== 0) {
      this.fail(`secure channel: session message of ${frame.data.length} bytes is malformed`);
    }
    const macStart = outer.length - MAC_LENGTH;
    const next = cmac(this.keys.mac, this.chain, outer.subarray(0, macStart));
    if (!constantTimeEqual(next.subarray(0, MAC_LENGTH), outer.subarray(macStart))) this.fail("secure channel: the command MAC does not verify");
    let plain: Uint8Array;
    try {
      plain = unpad(cbcRaw(this.keys.enc, this.iv(), frame.data.subarray(1, frame.data.length - MAC_LENGTH), true));
    } catch (e) {
      this.fail((e as Error).message);
    }
    this.pendingChain = next;
    return plain;
  }

  /** Card: the SESSION MESSAGE response carrying `inner` (a plain response frame). */
  wrapResponse(inner: Uint8Array): Uint8Array {
    this.assertOpen();
    const next = this.pendingChain;
    if (!next) throw new SecureChannelError("secure channel: response without a command");
    this.pendingChain = undefined;
    const encrypted = cbcRaw(this.keys.enc, this.iv(), pad(inner));
    const head = encodeFrame(CMD.SESSION_MESSAGE | 0x80, concat(new Uint8Array([this.sessionId]), encrypted, new Uint8Array(MAC_LENGTH)));
    const unsigned = head.subarray(0, head.length - MAC_LENGTH);
    head.set(cmac(this.keys.rmac, next, unsigned).subarray(0, MAC_LENGTH), unsigned.length);
    this.chain = next;
    this.counter++;
    return head;
  }
}
