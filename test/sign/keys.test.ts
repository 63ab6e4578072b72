// Device key files of the legacy flow: made by the real openssl binary and by `swtool keygen`.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FormatError } from "../../src/lib/errors.ts";
import { generateKeyPem, readPrivateKeyHex, readPrivateKeyPem } from "../../src/sign/keys.ts";
import { CURVES, toHex } from "../../src/sidewalk/index.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { opensslOk } from "../helpers/system.ts";

const dir = scratchDir("keys");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The raw public key openssl derives from a key file (hex, without the 0x04 point prefix). */
function opensslPublicKey(path: string, curve: "ed25519" | "p256r1"): string {
  const pem = opensslOk("pkey", "-in", path, "-pubout");
  const raw = Buffer.from(pem.replace(/-----(BEGIN|END) PUBLIC KEY-----|\s/g, ""), "base64");
  return curve === "ed25519" ? raw.subarray(raw.length - 32).toString("hex") : raw.subarray(raw.length - 64).toString("hex");
}

describe("device key files", () => {
  test("openssl-made keys (as the guide makes them) are read, public keys match openssl's", () => {
    const ec = join(dir, "ossl_p256.pem");
    const ed = join(dir, "ossl_ed.pem");
    const ec8 = join(dir, "ossl_p256_pkcs8.pem");
    opensslOk("ecparam", "-name", "prime256v1", "-genkey", "-out", ec);
    opensslOk("genpkey", "-algorithm", "ed25519", "-out", ed);
    opensslOk("pkcs8", "-topk8", "-nocrypt", "-in", ec, "-out", ec8);
    const p = readPrivateKeyPem(readFileSync(ec, "utf8"), "p256r1", ec);
    expect(toHex(p.publicKey)).toBe(opensslPublicKey(ec, "p256r1"));
    expect(toHex(readPrivateKeyPem(readFileSync(ec8, "utf8"), "p256r1", ec8).privateKey)).toBe(toHex(p.privateKey));
    const e = readPrivateKeyPem(readFileSync(ed, "utf8"), "ed25519", ed);
    expect(toHex(e.publicKey)).toBe(opensslPublicKey(ed, "ed25519"));
    expect(toHex(CURVES.ed25519.publicKeyFromPrivate(e.privateKey))).toBe(toHex(e.publicKey));
  });

  test("swapped, foreign, encrypted and broken key files are refused by name", () => {
    const ed = join(dir, "k_ed.pem");
    writeFileSync(ed, generateKeyPem("ed25519"));
    expect(() => readPrivateKeyPem(readFileSync(ed, "utf8"), "p256r1", ed)).toThrow(`${ed}: is an Ed25519 key, not P-256`);
    const p384 = join(dir, "k_p384.pem");
    opensslOk("ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", p384);
    expect(() => readPrivateKeyPem(readFileSync(p384, "utf8"), "p256r1", p384)).toThrow(`${p384}: is a P-384 key, not P-256`);
    const enc = join(dir, "k_enc.pem");
    opensslOk("genpkey", "-algorithm", "ed25519", "-aes256", "-pass", "pass:x", "-out", enc);
    expect(() => readPrivateKeyPem(readFileSync(enc, "utf8"), "ed25519", enc)).toThrow(`${enc}: the private key is encrypted`);
    expect(() => readPrivateKeyPem("hello", "ed25519", "x.pem")).toThrow('x.pem: not a PEM file (no "-----BEGIN" line)');
    expect(() => readPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "ed25519", "y.pem")).toThrow(FormatError);
    expect(() => readPrivateKeyHex("00", "ed25519", "ed25519_private_key")).toThrow('"ed25519_private_key" expected 32 bytes, got 1');
    expect(() => readPrivateKeyHex("zz".repeat(32), "ed25519", "ed25519_private_key")).toThrow("is not valid hex");
    expect(() => readPrivateKeyHex("00".repeat(32), "p256r1", "p256r1_private_key")).toThrow('"p256r1_private_key" is not a valid P-256 private key');
  });

  test("swtool keygen writes files openssl reads, 0600, and never overwrites", async () => {
    const out = join(dir, "keygen");
    const r = await swtool(["keygen", "--out-dir", out, "--count", "3", "--json"]);
    expect(r.code).toBe(0);
    const files = JSON.parse(r.stdout).files as { ed25519: string; p256r1: string }[];
    expect(files.length).toBe(3);
    expect(readdirSync(out).sort()).toEqual([
      "device-1_ed25519.pem", "device-1_p256r1.pem", "device-2_ed25519.pem", "device-2_p256r1.pem", "device-3_ed25519.pem", "device-3_p256r1.pem",
    ]);
    for (const f of files) {
      for (const [curve, path] of [["ed25519", f.ed25519], ["p256r1", f.p256r1]] as const) {
        expect(statSync(path).mode & 0o777).toBe(0o600);
        const key = readPrivateKeyPem(readFileSync(path, "utf8"), curve, path);
        expect(toHex(key.publicKey)).toBe(opensslPublicKey(path, curve));
      }
    }
    expect(readFileSync(files[0]!.p256r1, "utf8")).toStartWith("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\n");
    expect(readFileSync(files[0]!.ed25519, "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    const before = readFileSync(files[0]!.ed25519, "utf8");
    const again = await swtool(["keygen", "--out-dir", out, "--count", "3"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("device-1_ed25519.pem already exists");
    expect(readFileSync(files[0]!.ed25519, "utf8")).toBe(before);
  });
});
