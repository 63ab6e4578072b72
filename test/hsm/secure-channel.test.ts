// Known-answer tests of the secure channel: PBKDF2 and KDF vectors from python-yubihsm's tests,
// CMAC vectors of RFC 4493, and a whole session computed with the openssl CLI
// (test/hsm/make-scp03-vectors.sh), run from both the host and the card side.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex, toHex } from "../../src/lib/bytes.ts";
import { createCipheriv } from "node:crypto";
import { concat } from "../../src/lib/bytes.ts";
import { CMD, encodeFrame } from "../../src/hsm/protocol.ts";
import {
  authenticateSessionMessage,
  BLOCK,
  cardCryptogram,
  cmac,
  deriveAuthKey,
  deriveSessionKeys,
  hostCryptogram,
  kdf,
  MAC_LENGTH,
  MAX_COMMANDS_PER_SESSION,
  SecureChannel,
  SecureChannelError,
} from "../../src/hsm/secure-channel.ts";

const v = JSON.parse(readFileSync(join(import.meta.dir, "..", "vectors", "hsm-scp03.json"), "utf8"));

describe("authentication key from a password (python-yubihsm test_utils)", () => {
  test("password", () => {
    const k = deriveAuthKey("password");
    expect(toHex(k.encKey)).toBe("090b47dbed595654901dee1cc655e420");
    expect(toHex(k.macKey)).toBe("592fd483f759e29909a04c4505d2ce0a");
  });
  test("UTF-8 password", () => {
    const k = deriveAuthKey("\u03ba\u1f79\u03c3\u03bc\u03b5") // "κόσμε" with U+1F79, as in the python test;
    expect(toHex(k.encKey)).toBe("f320972c667ba5cd4d35119a6b0271a1");
    expect(toHex(k.macKey)).toBe("f10050ca688e5a6ce62b1ffb0f6f6869");
  });
});

describe("AES-CMAC (RFC 4493 section 4)", () => {
  const key = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
  const m = fromHex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710".replace(/ /g, ""));
  test.each([
    [0, "bb1d6929e95937287fa37d129b756746"],
    [16, "070a16b46b4d4144f79bdd9dd04a287c"],
    [40, "dfa66747de9ae63030ca32611497c827"],
    [64, "51f0bebf7e3b9d92fc49741779363cfe"],
  ])("message of %i bytes", (length, mac) => {
    expect(toHex(cmac(key, m.subarray(0, length)))).toBe(mac);
  });
});

test("SP 800-108 KDF (python-yubihsm test_core TestDeriveFct, AES-256 key)", () => {
  const key = new TextEncoder().encode("0xff0xff0x120xff0xff0xff0xff0xaf");
  const context = fromHex("0cf4f54cb9df595b");
  // The python test's context is 8 bytes; the KDF itself does not care about its length.
  expect(toHex(kdf(key, 0x04, context, 128))).toBe("57a07f31b913bce5ff06364a0e39467a");
});

describe("session establishment (python-yubihsm test_core mocked session, openssl-computed keys)", () => {
  const auth = deriveAuthKey(v.password);
  const context = fromHex(v.context);
  test("session keys", () => {
    const keys = deriveSessionKeys(auth, context);
    expect(toHex(keys.enc)).toBe(v.sEnc);
    expect(toHex(keys.mac)).toBe(v.sMac);
    expect(toHex(keys.rmac)).toBe(v.sRmac);
  });
  test("cryptograms and AUTHENTICATE SESSION", () => {
    const keys = deriveSessionKeys(auth, context);
    expect(toHex(cardCryptogram(keys, context))).toBe(v.cardCryptogram);
    expect(toHex(hostCryptogram(keys, context))).toBe(v.hostCryptogram);
    const { message, chain } = authenticateSessionMessage(0, keys, context);
    // python-yubihsm expects exactly these bytes on the wire.
    expect(toHex(message)).toBe("040011001ce7552e0f7976dbcc2198fd155c335a");
    expect(toHex(message)).toBe(v.authenticateSession);
    expect(toHex(chain)).toBe(v.macChainAfterAuth);
  });
});

function channels() {
  const auth = deriveAuthKey(v.password);
  const context = fromHex(v.context);
  const host = new SecureChannel(0, deriveSessionKeys(auth, context), fromHex(v.macChainAfterAuth));
  const card = new SecureChannel(0, deriveSessionKeys(auth, context), fromHex(v.macChainAfterAuth));
  return { host, card };
}

describe("session messages", () => {
  test("host wraps the command as openssl computed it", () => {
    const { host } = channels();
    expect(toHex(host.wrapCommand(fromHex(v.command)))).toBe(v.sessionMessage);
    expect(toHex(host.unwrapResponse(fromHex(v.sessionResponse)))).toBe(v.response);
  });
  test("card unwraps the command and wraps the response as openssl computed it", () => {
    const { card } = channels();
    expect(toHex(card.unwrapCommand(fromHex(v.sessionMessage)))).toBe(v.command);
    expect(toHex(card.wrapResponse(fromHex(v.response)))).toBe(v.sessionResponse);
  });
  test("host and card stay in step over many messages", () => {
    const { host, card } = channels();
    for (let i = 0; i < 40; i++) {
      const cmd = new Uint8Array(i * 7).fill(i);
      expect(card.unwrapCommand(host.wrapCommand(cmd))).toEqual(cmd);
      const rsp = new Uint8Array(i * 5 + 1).fill(255 - i);
      expect(host.unwrapResponse(card.wrapResponse(rsp))).toEqual(rsp);
    }
  });
  test("a flipped response MAC bit aborts the session", () => {
    const { host } = channels();
    host.wrapCommand(fromHex(v.command));
    const bad = fromHex(v.sessionResponse);
    bad[bad.length - 1]! ^= 1;
    expect(() => host.unwrapResponse(bad)).toThrow(SecureChannelError);
    expect(host.isOpen).toBe(false);
    expect(() => host.wrapCommand(fromHex(v.command))).toThrow("closed");
  });
  test("a flipped ciphertext bit fails the command MAC on the card", () => {
    const { card } = channels();
    const bad = fromHex(v.sessionMessage);
    bad[5]! ^= 0x40;
    expect(() => card.unwrapCommand(bad)).toThrow("command MAC does not verify");
  });
  test("a replayed command is refused", () => {
    const { host, card } = channels();
    const msg = host.wrapCommand(fromHex(v.command));
    host.unwrapResponse(card.wrapResponse(card.unwrapCommand(msg)));
    expect(() => card.unwrapCommand(msg)).toThrow(SecureChannelError);
  });
});

describe("failures and limits", () => {
  const keysOf = (c: SecureChannel) => (c as unknown as { keys: { enc: Uint8Array; mac: Uint8Array; rmac: Uint8Array } }).keys;
  const wiped = (c: SecureChannel) => [keysOf(c).enc, keysOf(c).mac, keysOf(c).rmac].every((k) => k.every((b) => b === 0));

  test("a response whose MAC verifies but whose padding is wrong wipes the host's session keys", () => {
    const { host } = channels();
    const keys = deriveSessionKeys(deriveAuthKey(v.password), fromHex(v.context));
    const command = host.wrapCommand(fromHex(v.command));
    // What a faulty card would send: one block without the 0x80 marker, MAC'd correctly.
    const commandChain = cmac(keys.mac, fromHex(v.macChainAfterAuth), command.subarray(0, command.length - MAC_LENGTH));
    const counter = new Uint8Array(BLOCK);
    new DataView(counter.buffer).setUint32(12, 1);
    const ecb = createCipheriv("aes-128-ecb", keys.enc, null).setAutoPadding(false);
    const iv = Buffer.concat([ecb.update(counter), ecb.final()]);
    const cbc = createCipheriv("aes-128-cbc", keys.enc, iv).setAutoPadding(false);
    const body = Buffer.concat([cbc.update(new Uint8Array(BLOCK)), cbc.final()]);
    const unsigned = encodeFrame(CMD.SESSION_MESSAGE | 0x80, concat(new Uint8Array([0]), body, new Uint8Array(MAC_LENGTH))).subarray(0, -MAC_LENGTH);
    const response = concat(unsigned, cmac(keys.rmac, commandChain, unsigned).subarray(0, MAC_LENGTH));
    expect(() => host.unwrapResponse(response)).toThrow("secure channel: decrypted message has no 0x80 padding marker");
    expect(host.isOpen).toBe(false);
    expect(wiped(host)).toBe(true);
  });
  test("a channel carries at most maxCommands commands (2^20 by default), then wipes its keys", () => {
    expect(MAX_COMMANDS_PER_SESSION).toBe(1048576);
    expect(channels().host.maxCommands).toBe(MAX_COMMANDS_PER_SESSION);
    const auth = deriveAuthKey(v.password);
    const context = fromHex(v.context);
    const host = new SecureChannel(0, deriveSessionKeys(auth, context), fromHex(v.macChainAfterAuth), 2);
    const card = new SecureChannel(0, deriveSessionKeys(auth, context), fromHex(v.macChainAfterAuth), 2);
    for (let i = 0; i < 2; i++) host.unwrapResponse(card.wrapResponse(card.unwrapCommand(host.wrapCommand(new Uint8Array([i])))));
    expect(host.commandsLeft).toBe(0);
    expect(() => host.wrapCommand(new Uint8Array([9]))).toThrow("secure channel: session 0 has carried its 2 commands");
    expect(wiped(host)).toBe(true);
  });
});

