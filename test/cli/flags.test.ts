// Flag checks, one way everywhere: whole numbers are whole, decimals are decimals, and the
// application server key is 32 bytes that are an Ed25519 point in every flow.
import { describe, expect, test } from "bun:test";
import { decimalArg, wholeNumberArg } from "../../src/cli/args.ts";
import { UsageError } from "../../src/lib/errors.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { appServerKey } from "../../src/mfg/input.ts";
import { parseAppServerKey } from "../../src/sign/profile.ts";
import { CURVES } from "../../src/sidewalk/curves.ts";
import { swtool } from "../helpers/cli.ts";

/** 32 bytes that are not an Ed25519 point. */
function notAPoint(): Uint8Array {
  for (let i = 2; ; i++) {
    const key = new Uint8Array(32);
    key[0] = i;
    if (!CURVES.ed25519.isValidPublicKey(key)) return key;
  }
}

describe("numbers", () => {
  test("wholeNumberArg refuses fractions, signs and words, naming the range", () => {
    expect(wholeNumberArg("16", "fixtures", { min: 1, max: 256 })).toBe(16);
    for (const bad of ["1.5", "-1", "x", "", "1e3"]) expect(() => wholeNumberArg(bad, "fixtures", { min: 1, max: 256 })).toThrow(`--fixtures ${JSON.stringify(bad)} is not a whole number from 1 to 256`);
  });
  test("decimalArg takes fractions within the range", () => {
    expect(decimalArg("0.25", "fault-rate", { min: 0, max: 1 })).toBe(0.25);
    expect(() => decimalArg("1.5", "fault-rate", { min: 0, max: 1 })).toThrow('--fault-rate "1.5" is not a number from 0 to 1');
    expect(() => decimalArg("0", "session-timeout", { above: 0 })).toThrow('--session-timeout "0" is not a number above 0');
    expect(() => decimalArg("abc", "session-timeout", { above: 0 })).toThrow(UsageError);
  });
  test("swtool device simulate --fixtures 1.5 and --command-timeout 2.5 are refused (exit 2)", async () => {
    const fixtures = await swtool(["device", "simulate", "--fixtures", "1.5"]);
    expect(fixtures.code).toBe(2);
    expect(fixtures.stderr).toContain('error: --fixtures "1.5" is not a whole number from 1 to 256');
    const probe = await swtool(["device", "probe", "--port", "socket://127.0.0.1:1", "--command-timeout", "2.5"]);
    expect(probe.code).toBe(2);
    expect(probe.stderr).toContain('error: --command-timeout "2.5" is not a whole number (at least 50)');
  });
});

describe("application server key", () => {
  test("the signing flag and the manufacturing page refuse the same off-curve key with the same words", () => {
    const key = notAPoint();
    expect(() => parseAppServerKey(toHex(key))).toThrow('"app server public key" is not an Ed25519 public key (not a point on the curve)');
    expect(() => appServerKey(key, "--app_srv_pub")).toThrow('"--app_srv_pub" is not an Ed25519 public key (not a point on the curve)');
    expect(() => parseAppServerKey(Buffer.from(new Uint8Array(31).fill(9)).toString("base64"))).toThrow("expected 32 bytes");
    const good = CURVES.ed25519.publicKeyFromPrivate(new Uint8Array(32).fill(7));
    expect(parseAppServerKey(toHex(good))).toEqual(good);
  });
});
