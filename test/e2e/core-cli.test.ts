// The compiled binary end to end on the seed vectors: smsn, csr decode, verify, flag errors.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeChain, issueDeviceChain, makeTestPki, CURVES, toBase64 } from "../../src/sidewalk/index.ts";
import { swtool } from "../helpers/cli.ts";
import { seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const dir = scratchDir("core");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function flipByte(b64: string, index: number): string {
  const raw = Buffer.from(b64, "base64");
  raw[index]! ^= 0x01;
  return raw.toString("base64");
}

function controlLog(entries: { smsn: string; ed: string; p: string; capital?: boolean }[]): string {
  return JSON.stringify({
    controlLogs: entries.map((e) => ({
      version: "4-0-1",
      device: {
        serialNumber: e.smsn,
        productIdentifier: { advertisedProductId: "pd25" },
        sidewalkData: {
          [e.capital ? "SidewalkED25519CertificateChain" : "sidewalkED25519CertificateChain"]: e.ed,
          [e.capital ? "SidewalkP256R1CertificateChain" : "sidewalkP256R1CertificateChain"]: e.p,
          label: "production",
        },
      },
    })),
  });
}

describe("swtool (compiled) core commands", () => {
  test("--version", async () => {
    const r = await swtool(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("swtool 0.1.0\n");
  });

  test("smsn of the seed device", async () => {
    const r = await swtool(["smsn", "--device-type", "A17XHX23H06INH", "--dsn", "SN1234567", "--apid", "pd25"]);
    expect(r).toEqual({ code: 0, stdout: "77086ebf8e20d074180f1a01fff256688dee68baa990c3610070e66c86f6ff39\n", stderr: "" });
    const underscore = await swtool(["smsn", "--device_type=A17XHX23H06INH", "-D", "SN1234567", "-a", "pd25", "--json"]);
    expect(JSON.parse(underscore.stdout).smsn).toBe(seed.smsn.smsn_hex);
    expect(JSON.parse(underscore.stdout).hashInput).toBe(seed.smsn.hash_input);
  });

  test("smsn refuses a 5-character APID with exit 1 and the reason", async () => {
    const r = await swtool(["smsn", "-d", "A17XHX23H06INH", "-D", "SN1234567", "-a", "pd255"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: APID "pd255" has 5 characters; it must have exactly 4');
    expect(r.stderr).not.toContain("    at ");
  });

  test("csr decode: both seed CSRs verify", async () => {
    for (const curve of ["ed25519", "p256r1"] as const) {
      const r = await swtool(["csr", "decode", seed.csr[curve].base64, "--json"]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({
        curve,
        publicKey: seed.csr[curve].pubkey,
        smsn: seed.csr[curve].smsn,
        signature: seed.csr[curve].signature,
        signatureOk: true,
      });
    }
  });

  test("csr decode: the truncated CSR from the docs is refused clearly", async () => {
    const r = await swtool(["csr", "decode", seed.bad_inputs_seen_in_docs.ed25519_csr_missing_first_char]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not valid base64: its length 171 is not a multiple of 4 (truncated or missing padding?)");
    expect(r.stderr).toContain("fix: copy the whole value again");
  });

  test("verify: seed Ed25519 chain ends at Amazon's production root", async () => {
    const r = await swtool(["verify", seed.chain.ed25519.base64, "--expect-root", "amazon"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("chain: Ed25519 6-certificate chain");
    expect(r.stdout).toContain("[5] AMAZON ROOT  serial 01800003");
    expect(r.stdout).toContain("root: Amazon Sidewalk production root");
    expect(r.stdout.trimEnd().endsWith("OK")).toBe(true);
  });

  test("verify: one byte changed exits 1 and names the failing certificate", async () => {
    const bad = flipByte(seed.chain.ed25519.base64, 128 + 4 + 3); // inside the DAK public key
    const r = await swtool(["verify", bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("[0] DEVICE       serial 77086ebf8e20d074180f1a01fff256688dee68baa990c3610070e66c86f6ff39 signature FAILED");
    expect(r.stdout).toContain("[1] DAK          serial 8c6000fa");
    expect(r.stdout).toContain("FAILED: certificate 0 (DEVICE) does not verify");
    const json = JSON.parse((await swtool(["verify", bad, "--json"])).stdout);
    expect(json.ok).toBe(false);
    expect(json.chains[0].report.firstFailure).toMatchObject({ index: 0, role: "DEVICE" });
    expect(json.chains[0].report.certs.map((c: { signatureOk: boolean }) => c.signatureOk)).toEqual([false, false, true, true, true, true]);
  });

  test("verify: a root signature flip names the root", async () => {
    const raw = Buffer.from(seed.chain.p256r1.base64, "base64");
    const r = await swtool(["verify", flipByte(seed.chain.p256r1.base64, raw.length - 1), "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).chains[0].report.firstFailure).toMatchObject({ index: 5, role: "AMAZON ROOT" });
  });

  test("verify: signing output JSON and control logs (both key spellings)", async () => {
    const out = join(dir, "signing-output.json");
    writeFileSync(out, JSON.stringify(seed.signing_tool_output_example));
    const r1 = await swtool(["verify", out, "--expect-root", "amazon"]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toContain("eD25519: Ed25519 6-certificate chain");
    expect(r1.stdout).toContain("p256R1: P-256 6-certificate chain");

    const log = join(dir, "C_CONTROL_LOG_20261121000000.txt");
    writeFileSync(log, controlLog([
      { smsn: seed.smsn.smsn_hex, ed: seed.chain.ed25519.base64, p: seed.chain.p256r1.base64 },
      { smsn: seed.smsn.smsn_hex, ed: seed.chain.ed25519.base64, p: seed.chain.p256r1.base64, capital: true },
    ]));
    const r2 = await swtool(["verify", log, "--json"]);
    expect(r2.code).toBe(0);
    expect(JSON.parse(r2.stdout).chains.map((c: { source: string }) => c.source)).toEqual([
      "controlLogs[0] ed25519", "controlLogs[0] p256r1", "controlLogs[1] ed25519", "controlLogs[1] p256r1",
    ]);

    const wrongSmsn = join(dir, "wrong-smsn.txt");
    writeFileSync(wrongSmsn, controlLog([{ smsn: "00".repeat(32), ed: seed.chain.ed25519.base64, p: seed.chain.p256r1.base64 }]));
    const r3 = await swtool(["verify", wrongSmsn]);
    expect(r3.code).toBe(1);
    expect(r3.stdout).toContain(`ERROR: device serial ${seed.smsn.smsn_hex} is not the SMSN ${"00".repeat(32)} the file names`);
  });

  test("verify --expect-root amazon fails a test chain that verifies", async () => {
    const pki = makeTestPki("ed25519");
    const key = CURVES.ed25519.randomPrivateKey();
    const chain = await issueDeviceChain("ed25519", "sidewalk", pki.caCerts, CURVES.ed25519.publicKeyFromPrivate(key), new Uint8Array(32), (m) =>
      CURVES.ed25519.sign(m, pki.privateKeys[0]!),
    );
    const b64 = toBase64(encodeChain(chain));
    const plain = await swtool(["verify", b64]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toContain("root: NOT Amazon's production root (test or pre-production chain)");
    const strict = await swtool(["verify", b64, "--expect-root", "amazon"]);
    expect(strict.code).toBe(1);
  });

  test("a flag with a typographic dash is recognised and explained (exit 2)", async () => {
    const r = await swtool(["csr", "decode", seed.csr.p256r1.base64, seed.bad_inputs_seen_in_docs.em_dash_flag]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'error: "\u2014ecdsa_csr=..." starts with a typographic dash (U+2014 EM DASH), not "--"; it was probably copied from a document\n' +
        "  fix: type it with two ASCII hyphens: --ecdsa_csr\n",
    );
  });

  test("unknown and mistyped flags and commands: exit 2 with a suggestion", async () => {
    const r = await swtool(["smsn", "--device-typ", "X", "--dsn", "Y", "--apid", "abcd"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("error: unknown flag --device-typ for `swtool smsn`\n  fix: did you mean --device-type?\n");
    const c = await swtool(["verfy", "x"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain("fix: did you mean `swtool verify`?");
    const missing = await swtool(["smsn", "--dsn", "Y"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("Missing required argument: --device-type");
  });

  test("help for the root and every subcommand", async () => {
    const root = await swtool(["--help"]);
    expect(root.code).toBe(0);
    for (const cmd of ["smsn", "csr", "verify"]) expect(root.stdout).toContain(cmd);
    for (const [args, usage] of [[["smsn", "--help"], "Usage: swtool smsn [options]"], [["csr", "decode", "--help"], "Usage: swtool csr decode [options] <csr>"], [["verify", "-h"], "Usage: swtool verify [options] <input>"]] as const) {
      const r = await swtool([...args]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(usage);
      expect(r.stdout.split("\n").filter((l) => l.length > 80)).toEqual([]);
    }
  });

  test("--json errors are machine-readable", async () => {
    const r = await swtool(["verify", "AAAA", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, chains: [{ source: "chain" }] });
    const e = await swtool(["smsn", "-d", "T", "-D", "S", "-a", "abc", "--json"]);
    expect(JSON.parse(e.stdout)).toEqual({
      ok: false,
      error: { type: "FormatError", message: 'APID "abc" has 3 characters; it must have exactly 4', advice: "give the 4-character Advertised Product ID from the Sidewalk console", exitCode: 1 },
    });
  });
});
