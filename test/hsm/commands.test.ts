// Command codecs: byte vectors from python-yubihsm's tests (list objects, device info), round
// trips of every codec, and a sweep of malformed input that must be refused, not misread.
import { describe, expect, test } from "bun:test";
import { FormatError } from "../../src/lib/errors.ts";
import { deviceInfo } from "../../src/hsm/commands/device-info.ts";
import { getObjectInfo } from "../../src/hsm/commands/get-object-info.ts";
import { listObjects } from "../../src/hsm/commands/list-objects.ts";
import { putAuthenticationKey } from "../../src/hsm/commands/put-authentication-key.ts";
import { putOpaque } from "../../src/hsm/commands/put-opaque.ts";
import { derToRaw } from "../../src/hsm/commands/sign-ecdsa.ts";
import { ALL_CAPABILITIES, decodeFrame, encodeFrame, packLabel } from "../../src/hsm/protocol.ts";
import { fromHex, toHex } from "../../src/lib/bytes.ts";

describe("python-yubihsm vectors", () => {
  test("LIST OBJECTS request with every filter (TestAuthsession.test_list_objects1)", () => {
    const encoded = listObjects.encodeRequest({ id: 2, type: 1, domains: 65535, capabilities: ALL_CAPABILITIES, algorithm: 21 });
    expect(toHex(encoded)).toBe("0100020201" + "03ffff" + "0400ffffffffffffff" + "0515");
    expect(listObjects.decodeRequest(encoded)).toEqual({ id: 2, type: 1, domains: 65535, capabilities: ALL_CAPABILITIES, algorithm: 21 });
  });
  test("LIST OBJECTS response (test_list_objects2)", () => {
    const refs = listObjects.decodeResponse(fromHex("00010200648f030000010300000405000005050000050300"));
    expect(refs.map((r) => [r.id, r.type])).toEqual([[1, 2], [25743, 3], [1, 3], [4, 5], [5, 5], [5, 3]]);
  });
  test("DEVICE INFO response (TestDeviceInfo)", () => {
    const raw = new Uint8Array([2, 0, 0, 0, 0x73, 0x35, 0x6d, 0x3e, 0x3e, ...Array.from({ length: 47 }, (_, i) => i + 1)]);
    const info = deviceInfo.decodeResponse(raw);
    expect(info.version).toEqual([2, 0, 0]);
    expect(info.serial).toBe(7550317);
    expect([info.logSize, info.logUsed, info.algorithms.length]).toEqual([62, 62, 47]);
    expect(deviceInfo.encodeResponse(info)).toEqual(raw);
  });
});

describe("round trips", () => {
  test("object info", () => {
    const info = { capabilities: 0x180n, id: 0x50, size: 32, domains: 5, type: 3, algorithm: 46, sequence: 2, origin: 2, label: "RNET_DAK_DEMO_ED25.priv", delegatedCapabilities: 0n };
    const bytes = getObjectInfo.encodeResponse(info);
    expect(bytes.length).toBe(66);
    expect(getObjectInfo.decodeResponse(bytes)).toEqual(info);
  });
  test("put opaque and put authentication key", () => {
    const o = { id: 0x0e, label: "HSM_INFO", domains: 5, capabilities: 0n, algorithm: 30, data: new Uint8Array([1, 2]) };
    expect(putOpaque.decodeRequest(putOpaque.encodeRequest(o))).toEqual(o);
    const k = { id: 5, label: "SIDEWALK", domains: 5, capabilities: 0x181n, algorithm: 38, delegatedCapabilities: 0n, encKey: new Uint8Array(16).fill(1), macKey: new Uint8Array(16).fill(2) };
    expect(putAuthenticationKey.decodeRequest(putAuthenticationKey.encodeRequest(k))).toEqual(k);
  });
});

describe("refuses malformed input", () => {
  test.each([
    ["short frame", () => decodeFrame(new Uint8Array([0x86, 0]), "t")],
    ["frame longer than declared", () => decodeFrame(new Uint8Array([0x86, 0, 1, 1, 2]), "t")],
    ["frame shorter than declared", () => decodeFrame(new Uint8Array([0x86, 0, 3, 1]), "t")],
    ["list response not in 4-byte entries", () => listObjects.decodeResponse(new Uint8Array(5))],
    ["unknown list filter", () => listObjects.decodeRequest(new Uint8Array([0x09, 1]))],
    ["object info with trailing byte", () => getObjectInfo.decodeResponse(new Uint8Array(67))],
    ["authentication key with a short K-MAC", () => putAuthenticationKey.decodeRequest(new Uint8Array(61 + 8 + 31))],
    ["label over 40 bytes", () => packLabel("x".repeat(41))],
    ["DER: not a sequence", () => derToRaw(fromHex("3102020101"))],
    ["DER: wrong sequence length", () => derToRaw(fromHex("3007020101020101"))],
    ["DER: negative integer", () => derToRaw(fromHex("3006020181020101"))],
    ["DER: non-minimal integer", () => derToRaw(fromHex("300702020001020101"))],
    ["DER: integer too long", () => derToRaw(fromHex("3026022101" + "00".repeat(32) + "020101"))],
    ["DER: trailing bytes", () => derToRaw(fromHex("300602010102010100"))],
    ["DER: r of zero", () => derToRaw(fromHex("3006020100020101"))],
    ["DER: s of zero", () => derToRaw(fromHex("3006020101020100"))],
  ])("%s", (_name, fn) => {
    expect(fn).toThrow(FormatError);
  });
  test("DER with leading zero for a high bit is read to 32 bytes", () => {
    const raw = derToRaw(fromHex("3008020200ff020201ff"));
    expect(toHex(raw)).toBe("00".repeat(31) + "ff" + "00".repeat(30) + "01ff");
  });
  test("frame encoding", () => {
    expect(toHex(encodeFrame(0x06))).toBe("060000");
  });
});
