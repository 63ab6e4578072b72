// The signing output formats are the reference tool's, byte for byte, and the Ed25519 device
// certificate is what any correct Ed25519 signer makes (checked against the openssl binary).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatFlat, formatJson } from "../../src/formats/signing-output.ts";
import { signRequest, type SigningResult } from "../../src/sign/sign.ts";
import { deviceRequest } from "../../src/sign/request.ts";
import { CURVES, decodeChainBase64, fromHex, makeCsr, makeTestPki, MemorySigner, toHex } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

function seedResult(extra: Partial<SigningResult> = {}): SigningResult {
  return {
    chains: {
      smsn: fromHex(seed.smsn.smsn_hex),
      ed25519: decodeChainBase64(seed.chain.ed25519.base64, "ed25519"),
      p256r1: decodeChainBase64(seed.chain.p256r1.base64, "p256r1"),
    },
    stage: "production",
    apid: "pd25",
    keys: {},
    ...extra,
  };
}

describe("signing output", () => {
  test("JSON is the reference's: keys, order, 4-space indent, trailing newline", () => {
    const text = formatJson(seedResult());
    expect(JSON.parse(text)).toEqual(seed.signing_tool_output_example);
    expect(text).toBe(
      `{\n    "eD25519": "${seed.chain.ed25519.base64}",\n    "p256R1": "${seed.chain.p256r1.base64}",\n    "label": "production",\n` +
        `    "metadata": {\n        "smsn": "${seed.smsn.smsn_hex}",\n        "apid": "pd25"\n    }\n}\n`,
    );
  });

  test("JSON with private keys and application server key", () => {
    const ed = { curve: "ed25519" as const, privateKey: new Uint8Array(32).fill(1), publicKey: new Uint8Array(32) };
    const p = { curve: "p256r1" as const, privateKey: new Uint8Array(32).fill(2), publicKey: new Uint8Array(64) };
    const appKey = Buffer.from(seed.app_server_public_key_base64, "base64");
    const o = JSON.parse(formatJson(seedResult({ keys: { ed25519: ed, p256r1: p }, applicationServerPublicKey: appKey })));
    expect(Object.keys(o)).toEqual(["eD25519", "p256R1", "label", "metadata", "applicationServerPublicKey"]);
    expect(o.metadata).toEqual({ smsn: seed.smsn.smsn_hex, apid: "pd25", devicePrivKeyEd25519: "01".repeat(32), devicePrivKeyP256R1: "02".repeat(32) });
    expect(o.applicationServerPublicKey).toBe(appKey.toString("hex"));
  });

  test("flat format is the reference's, line for line", () => {
    const appKey = Buffer.from(seed.app_server_public_key_base64, "base64");
    expect(formatFlat(seedResult({ applicationServerPublicKey: appKey, stage: "preproduction" }))).toBe(
      `smsn: ${seed.smsn.smsn_hex}\n` +
        `ED25519 Sidewalk Certificate Chain: ${seed.chain.ed25519.base64}\n` +
        `P256R1 Sidewalk Certificate Chain: ${seed.chain.p256r1.base64}\n` +
        `Label: preproduction\n` +
        `Application Server Public Key:${appKey.toString("hex")}\n`,
    );
  });

  test("the Ed25519 device certificate equals one made by openssl with the same DAK", async () => {
    const dir = scratchDir("ed");
    try {
      const pki = { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") };
      const signer = new MemorySigner("TEST_DAK_X", "test", pki);
      const smsn = fromHex(seed.smsn.smsn_hex);
      const edKey = CURVES.ed25519.randomPrivateKey();
      const csrs = { ed25519: makeCsr("ed25519", edKey, smsn), p256r1: makeCsr("p256r1", CURVES.p256r1.randomPrivateKey(), smsn) };
      const result = await signRequest(signer, { csrs, keys: {}, legacyKeys: false });
      // openssl signs publicKey || SMSN with the DAK's private key (PKCS#8 made from the raw seed).
      const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), pki.ed25519.privateKeys[0]!]);
      writeFileSync(join(dir, "dak.der"), pkcs8);
      writeFileSync(join(dir, "tbs.bin"), Buffer.concat([csrs.ed25519.publicKey, smsn]));
      const p = Bun.spawnSync(["openssl", "pkeyutl", "-sign", "-rawin", "-keyform", "DER", "-inkey", join(dir, "dak.der"), "-in", join(dir, "tbs.bin")], { stdout: "pipe", stderr: "pipe" });
      expect(p.exitCode).toBe(0);
      expect(toHex(result.chains.ed25519.certs[0]!.signature)).toBe(Buffer.from(p.stdout).toString("hex"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("PEM-key mode: SMSN from device type, DSN, APID and stage; keys in the metadata", async () => {
    const edHex = toHex(CURVES.ed25519.randomPrivateKey());
    const request = deviceRequest({ generateSmsn: true, deviceType: "A17XHX23H06INH", dsn: "SN1234567", apid: "pd25", ed25519PrivateKey: edHex, p256r1PrivateKey: toHex(CURVES.p256r1.randomPrivateKey()) }, "production");
    expect(toHex(request.expectedSmsn!)).toBe(seed.smsn.smsn_hex);
    const testRequest = deviceRequest({ generateSmsn: true, deviceType: "A17XHX23H06INH", dsn: "SN1234567", apid: "pd25", ed25519PrivateKey: edHex, p256r1PrivateKey: edHex }, "test");
    expect(toHex(testRequest.expectedSmsn!)).toBe(new Bun.CryptoHasher("sha256").update("A17XHX23H06INH-TESTSN1234567pd25").digest("hex"));
  });
});
