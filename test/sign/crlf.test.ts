// Input files written on Windows (CRLF line endings) read as their LF twins, on Linux through
// the compiled binary: the batch CSV, PEM key files, the PIN file, the mfg config YAML, the
// signing output JSON, the TLS client files (--ca-cert, --client-cert, --client-key through a
// real nginx), and upload's known_hosts and SSH --key (a real sshd) (the DSN list:
// test/ledger/ledger.test.ts; under Wine: test/windows/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { swtool } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY_HEX, expectedBin, input } from "../mfg/fixtures.ts";
import { startNginx } from "../pki/helpers.ts";
import { startSshd } from "../upload/sshd.ts";
import { makeEntry, makeTestLine, writeLogFile } from "../controllog/fixtures.ts";
import { CURVES, computeSmsn, decodeChainBase64, encodeCsr, makeCsr, toBase64, toHex, verifyChain, type Curve } from "../../src/sidewalk/index.ts";

let hsm: LoadedHsm;
let dir: string;
beforeAll(async () => {
  hsm = await startLoadedHsm("TEST_DAK_CRLF");
  dir = mkdtempSync(join(tmpdir(), "swtool-crlf-"));
});
afterAll(() => hsm.stop());

const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");
const smsnOf = (dsn: string) => toHex(computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" }));

describe("CRLF input files", () => {
  test("batch CSV, PEM key files and the PIN file with CRLF: every row signed", async () => {
    const keys = join(dir, "keys");
    expect((await swtool(["keygen", "--out-dir", keys, "--count", "2"])).code).toBe(0);
    for (const f of readdirSync(keys)) writeFileSync(join(keys, f), crlf(readFileSync(join(keys, f), "utf8")));
    const k = (i: number, c: string) => join(keys, `device-${i}_${c}.pem`);
    const csv = join(dir, "batch.csv");
    writeFileSync(csv, crlf(["dsn,ed25519_private_key_file,p256r1_private_key_file", `SNC0001,${k(1, "ed25519")},${k(1, "p256r1")}`, `SNC0002,${k(2, "ed25519")},${k(2, "p256r1")}`, ""].join("\n")));
    const pinFile = join(dir, "pin.txt");
    writeFileSync(pinFile, `${TEST_PIN}\r\n`);
    const out = join(dir, "out");
    const r = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--pin-file", pinFile, "--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", out, "--json"]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["SNC0001.json", "SNC0002.json"]);
    expect(JSON.parse(readFileSync(join(out, "SNC0002.json"), "utf8")).metadata.smsn).toBe(smsnOf("SNC0002"));
  }, 60_000);

  test("mfg build: CRLF config YAML and signing output JSON give provision.py's bytes", async () => {
    const config = join(dir, "config_legacy.yaml");
    const signing = join(dir, "signing.json");
    writeFileSync(config, crlf(readFileSync(input("config_legacy.yaml"), "utf8")));
    writeFileSync(signing, crlf(readFileSync(input("testpki-signing-output.json"), "utf8")));
    mkdirSync(join(dir, "pages"));
    const page = join(dir, "pages", "legacy.bin");
    const r = await swtool(["mfg", "build", signing, "--app_srv_pub", APP_KEY_HEX, "--config", config, "--output_bin", page]);
    expect(r.code).toBe(0);
    expect(new Uint8Array(readFileSync(page))).toEqual(expectedBin("testpki-acs-legacy"));
  });

  test("TLS client files with CRLF: --ca-cert, --client-cert and --client-key through nginx's mutual TLS", async () => {
    const pki = join(dir, "pki");
    expect((await swtool(["pki", "init", "--out", pki, "--server-name", "127.0.0.1"])).code).toBe(0);
    expect((await swtool(["pki", "client", "--ca", pki, "--name", "LINEPC-CRLF"])).code).toBe(0);
    const bundle = join(pki, "clients", "LINEPC-CRLF");
    for (const f of ["ca.pem", "client.pem", "client.key"]) writeFileSync(join(bundle, f), crlf(readFileSync(join(bundle, f), "utf8")));
    expect(readFileSync(join(bundle, "client.key"), "utf8")).toContain("-----\r\n");
    const nginx = await startNginx({ conf: join(pki, "nginx.conf"), workDir: join(dir, "nginx"), upstreamPort: Number(new URL(hsm.url).port) });
    try {
      const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SNCRLFTLS", apid: "pd25", stage: "test" });
      const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, CURVES[c].randomPrivateKey(), smsn)));
      const tls = ["--ca-cert", join(bundle, "ca.pem"), "--client-cert", join(bundle, "client.pem"), "--client-key", join(bundle, "client.key")];
      const r = await swtool(["sign", "-p", hsm.productTag, "-c", `https://127.0.0.1:${nginx.port}`, ...tls, "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1")], { env: { SWTOOL_HSM_PIN: TEST_PIN } });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(verifyChain(decodeChainBase64(out.eD25519, "ed25519")).ok).toBe(true);
      expect(verifyChain(decodeChainBase64(out.p256R1, "p256r1")).ok).toBe(true);
    } finally {
      await nginx.stop();
    }
  }, 60_000);

  test("upload with a CRLF known_hosts and a CRLF SSH --key (real sshd)", async () => {
    const sshd = await startSshd();
    try {
      const knownHosts = join(dir, "known_hosts");
      writeFileSync(knownHosts, crlf(`# written on the line PC\nother.example ${sshd.hostPublicKey}\n[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`));
      const key = join(dir, "control_log_key");
      writeFileSync(key, crlf(readFileSync(sshd.clientKey, "utf8")), { mode: 0o600 });
      expect(readFileSync(key, "utf8")).toContain("-----\r\n");
      const logs = join(dir, "logs");
      mkdirSync(logs);
      const file = writeLogFile(logs, "C_CONTROL_LOG_20261121150000.txt", [await makeEntry(makeTestLine())]);
      const r = await swtool(["upload", file, "--host", "127.0.0.1", "--port", String(sshd.port), "--user", sshd.user, "--key", key, "--known-hosts", knownHosts, "--remote-dir", sshd.uploadDir]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${sshd.user}@[127.0.0.1]:${sshd.port}:${join(sshd.uploadDir, "C_CONTROL_LOG_20261121150000.txt")}\n`);
      expect(readFileSync(join(sshd.uploadDir, "C_CONTROL_LOG_20261121150000.txt"), "utf8")).toBe(readFileSync(file, "utf8"));
    } finally {
      await sshd.stop();
    }
  }, 60_000);
});
