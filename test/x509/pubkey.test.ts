// Device public key reading: the FreeRTOS console vector (with noise and line breaks anywhere),
// every accepted form of the same key, and bad keys refused with the reason.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FormatError, SwtoolError, VerificationError } from "../../src/lib/errors.ts";
import { fromHex } from "../../src/lib/bytes.ts";
import { parseDevicePublicKey, publicKeyPem } from "../../src/x509/pubkey.ts";
import { REPO, seed } from "../helpers/vectors.ts";

const vector = seed.x509_device_public_key as { console_dump: string; der_hex: string; pem: string };
const keys = JSON.parse(readFileSync(join(REPO, "test", "vectors", "x509-device-keys.json"), "utf8"));
const pemOf = (input: Uint8Array | string) => publicKeyPem(parseDevicePublicKey(input));

describe("x509 device public key: the seed vector", () => {
  test("console dump gives exactly the vector's PEM", () => {
    expect(pemOf(vector.console_dump)).toBe(vector.pem);
  });

  test("DER, hex, PEM and the raw point give the same PEM", () => {
    const der = fromHex(vector.der_hex);
    expect(pemOf(der)).toBe(vector.pem);
    expect(pemOf(vector.der_hex)).toBe(vector.pem);
    expect(pemOf(vector.der_hex.toUpperCase().replace(/(..)/g, "$1:"))).toBe(vector.pem);
    expect(pemOf(vector.pem)).toBe(vector.pem);
    expect(pemOf(vector.pem.replace(/\n/g, "\r\n"))).toBe(vector.pem);
    const point = der.subarray(26);
    expect(pemOf(point)).toBe(vector.pem);
    expect(pemOf(point.subarray(1))).toBe(vector.pem);
    expect(pemOf(vector.der_hex.slice(52))).toBe(vector.pem);
    expect(pemOf(vector.der_hex.slice(54))).toBe(vector.pem);
  });

  test("noise before and after the dump", () => {
    const noisy = [
      "\x1b[0;32mI (312) wifi: connected to ap 3a:4f:01:ff, channel 6\x1b[0m",
      "5 899 [IP-task] vDHCPProcess: offer c0a80105",
      "dead beef cafe",
      vector.console_dump,
      "8 920 [IP-task] Key provisioning done 0x1234 abcd",
      "ffff 0000",
    ].join("\r\n");
    expect(pemOf(noisy)).toBe(vector.pem);
  });

  test("a line break anywhere (LF and CR LF)", () => {
    const dump = vector.console_dump;
    for (const br of ["\n", "\r\n"]) {
      for (let i = 0; i <= dump.length; i++) {
        const broken = dump.slice(0, i) + br + dump.slice(i);
        expect(`${i}: ${pemOf(broken)}`).toBe(`${i}: ${vector.pem}`);
      }
    }
  });

  test("the dump with every line break removed, or re-wrapped at any width", () => {
    const hex = vector.console_dump.split("\n").slice(1).join(" ");
    expect(pemOf(`Device public key, 91 bytes: ${hex}`)).toBe(vector.pem);
    for (let width = 1; width < 60; width++) {
      const wrapped = vector.der_hex.match(new RegExp(`.{1,${width}}`, "g"))!.join("\n");
      expect(pemOf(`7 910 [IP-task] Device public key, 91 bytes:\n${wrapped}\n7 911 [IP-task] next`)).toBe(vector.pem);
    }
  });

  test("an unrelated log line inside the dump is skipped", () => {
    const lines = vector.console_dump.split("\n");
    lines.splice(3, 0, "7 915 [Tmr Svc] tick");
    expect(pemOf(lines.join("\n"))).toBe(vector.pem);
  });

  test("a compressed point gives the uncompressed key", () => {
    expect(pemOf(fromHex(keys.p256.compressed_der_hex))).toBe(pemOf(fromHex(keys.p256.der_hex)));
    expect(pemOf(keys.p256.compressed_der_hex.slice(52))).toBe(pemOf(keys.p256.der_hex));
  });
});

describe("x509 device public key: bad keys refused with the reason", () => {
  for (const [name, bad] of Object.entries(keys.bad as Record<string, { pem?: string; hex?: string; error: string }>)) {
    test(name, () => {
      const input = bad.pem ?? bad.hex!;
      expect(() => parseDevicePublicKey(input)).toThrow(bad.error);
      expect(() => parseDevicePublicKey(input)).toThrow(VerificationError);
      // The same key inside a console dump is refused for the same reason.
      const hex = bad.hex;
      if (hex) expect(() => parseDevicePublicKey(`Device public key, 91 bytes:\n${hex.replace(/(.{4})/g, "$1 ")}\n`)).toThrow(bad.error);
    });
  }

  test("truncated DER, hex, dump and PEM", () => {
    const der = fromHex(vector.der_hex);
    expect(() => parseDevicePublicKey(der.subarray(0, 90))).toThrow("truncated key: its DER declares 91 bytes but only 90 are there");
    expect(() => parseDevicePublicKey(vector.der_hex.slice(0, 160))).toThrow("truncated key: its DER declares 91 bytes but only 80 are there");
    expect(() => parseDevicePublicKey(vector.der_hex.slice(0, 181))).toThrow("odd number of digits (181)");
    const cut = vector.console_dump.slice(0, vector.console_dump.length - 12);
    expect(() => parseDevicePublicKey(cut)).toThrow("the console announced 91 bytes but the dump ends early");
    expect(() => parseDevicePublicKey(vector.pem.replace("-----END PUBLIC KEY-----\n", ""))).toThrow("has no matching END line");
    expect(() => parseDevicePublicKey(vector.pem.replace("MFkw", "MFk"))).toThrow(FormatError);
    expect(() => parseDevicePublicKey(der.subarray(26, 60))).toThrow("34 bytes is not a P-256 public key");
  });

  test("trailing bytes after the DER are refused", () => {
    expect(() => parseDevicePublicKey(vector.der_hex + "00")).toThrow("1 unexpected bytes after the 91-byte key");
  });

  test("a private key is refused without echoing it", () => {
    const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n";
    expect(() => parseDevicePublicKey(pem)).toThrow("this is a private key");
  });

  test("reject invalid inputs sweep", () => {
    for (const input of [undefined, null, 42, {}, [], "", "   ", new Uint8Array(0), new Uint8Array(91), "hello world", "zz", fromHex("04"), new Uint8Array(65).fill(4)]) {
      expect(() => parseDevicePublicKey(input as never)).toThrow(SwtoolError);
    }
  });
});
