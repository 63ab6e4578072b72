// The rest of the toolkit on Windows: dist/swtool.exe under Wine. mfg build from CRLF inputs
// (config YAML, signing output JSON) to the exact bytes of Nordic's provision.py, and mfg
// decode; pki init and pki client on Windows paths, then signing through a real nginx with
// mutual TLS; x509 ca init and x509 provision of a secure-element board over a COM port.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CURVES, computeSmsn, decodeChainBase64, encodeCsr, makeCsr, toBase64, verifyChain, type Curve } from "../../src/sidewalk/index.ts";
import { spawnSwtoolServer } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY_HEX, expectedBin, input } from "../mfg/fixtures.ts";
import { startNginx, type RunningNginx } from "../pki/helpers.ts";
import { exe, mapComPorts, skipReason, stopWineserver, win } from "./wine.ts";

const suite = skipReason ? describe.skip : describe;
const env = { SWTOOL_HSM_PIN: TEST_PIN };
let hsm: LoadedHsm;
let dir: string;
let board: ReturnType<typeof Bun.spawn> | undefined;
let nginx: RunningNginx | undefined;

beforeAll(async () => {
  if (skipReason) return;
  hsm = await startLoadedHsm("TEST_DAK_WINTLS");
  dir = mkdtempSync(join(tmpdir(), "swtool-win-tools-"));
  const sim = await spawnSwtoolServer(["x509", "simulate", "--pty", "--serial", "0123aabbccddeeff01", "--json"]);
  board = sim.proc;
  mapComPorts({ COM9: sim.first.port as string });
}, 120_000);
afterAll(async () => {
  if (skipReason) return;
  board?.kill("SIGTERM");
  await board?.exited;
  await nginx?.stop();
  await hsm.stop();
  stopWineserver();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");

suite("swtool.exe tools (Wine)", () => {
  test("mfg build from CRLF config and signing output: the bytes of provision.py; mfg decode verifies it", async () => {
    const config = join(dir, "config_legacy.yaml");
    const signing = join(dir, "signing-output.json");
    writeFileSync(config, crlf(readFileSync(input("config_legacy.yaml"), "utf8")));
    writeFileSync(signing, crlf(readFileSync(input("testpki-signing-output.json"), "utf8")));
    const page = join(dir, "page legacy.bin");
    const r = await exe(["mfg", "build", win(signing), "--app_srv_pub", APP_KEY_HEX, "--config", win(config), "--output_bin", win(page)]);
    expect(r.code).toBe(0);
    expect(new Uint8Array(readFileSync(page))).toEqual(expectedBin("testpki-acs-legacy"));
    // Building again merges into the page and replaces it whole (MoveFileExW with REPLACE_EXISTING | WRITE_THROUGH).
    const again = await exe(["mfg", "build", win(signing), "--app_srv_pub", APP_KEY_HEX, "--config", win(config), "--output_bin", win(page)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`bin:     ${win(page)} (merged into the existing page)`);
    expect(new Uint8Array(readFileSync(page))).toEqual(expectedBin("testpki-acs-legacy"));
    expect(readdirSync(dir).filter((f) => f.startsWith(".swtool-"))).toEqual([]);
    const d = await exe(["mfg", "decode", win(page), "--json"]);
    expect(d.code).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ ok: true });
  }, 60_000);

  test("pki init + pki client on Windows paths, then sign through nginx with mutual TLS", async () => {
    const pki = join(dir, "pki");
    const init = await exe(["pki", "init", "--out", win(pki), "--server-name", "127.0.0.1"]);
    expect(init.code).toBe(0);
    // Wine 8 maps access lists to Unix mode bits: the owner-only DACL reads back as three entries,
    // so the output says what each key file really got (on NTFS: "access: this user only").
    const notPrivate = "NOT private: its access list has 3 entries instead of one";
    const warning = (path: string) => `${path} is not private to this user: its access list has 3 entries instead of one; other accounts on this PC may read it (keep key files on an NTFS disk)`;
    const warnings = (stderr: string) => stderr.split(/\r?\n/).filter((l) => l.includes("is not private")).map((l) => l.slice(l.indexOf("Z:\\")));
    expect(init.stdout).toContain(`(key ${win(join(pki, "ca.key"))}, ${notPrivate}; keep it on this server only)`);
    expect(init.stdout).toContain(`(key ${win(join(pki, "server.key"))}, ${notPrivate}) for 127.0.0.1`);
    expect(warnings(init.stderr)).toEqual([warning(win(join(pki, "ca.key"))), warning(win(join(pki, "server.key")))]);
    const client = await exe(["pki", "client", "--ca", win(pki), "--name", "LINEPC-07"]);
    expect(client.code).toBe(0);
    const clientKey = win(join(pki, "clients", "LINEPC-07", "client.key"));
    expect(client.stdout).toContain(`key:     ${clientKey} (${notPrivate})`);
    expect(warnings(client.stderr)).toEqual([warning(clientKey)]);
    const json = await exe(["pki", "client", "--ca", win(pki), "--name", "LINEPC-08", "--json"]);
    expect(JSON.parse(json.stdout).client.keyProtection).toEqual({ private: false, description: notPrivate });
    const conf = readFileSync(join(pki, "nginx.conf"), "utf8");
    // nginx reads backslashes as escapes: the exe writes C:/-style paths.
    const confDir = win(pki).replaceAll("\\", "/");
    expect(conf).toContain(`ssl_certificate ${confDir}/server.pem;`);
    expect(conf).not.toMatch(/[A-Z]:\\/);
    // The signing server here is Linux: its nginx gets the same files by their Unix names.
    nginx = await startNginx({ conf: join(pki, "nginx.conf"), workDir: join(dir, "nginx"), upstreamPort: Number(new URL(hsm.url).port), replace: [[new RegExp(confDir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g"), pki]] });
    const bundle = join(pki, "clients", "LINEPC-07");
    const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SNTLS01", apid: "pd25", stage: "test" });
    const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
    const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
    const tls = ["-c", `https://127.0.0.1:${nginx.port}`, "--ca-cert", win(join(bundle, "ca.pem")), "--client-cert", win(join(bundle, "client.pem")), "--client-key", win(join(bundle, "client.key"))];
    const r = await exe(["sign", "-p", hsm.productTag, ...tls, "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1")], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(verifyChain(decodeChainBase64(out.eD25519, "ed25519")).ok).toBe(true);
    expect(verifyChain(decodeChainBase64(out.p256R1, "p256r1")).ok).toBe(true);
    // Without the client certificate nginx answers 403 and the exe says why.
    const refused = await exe(["sign", "-p", hsm.productTag, ...tls.slice(0, 4), "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1")], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no client certificate was presented");
  }, 90_000);

  test("x509 ca init, then x509 provision of a secure-element board over COM9", async () => {
    const ca = join(dir, "lab ca");
    expect((await exe(["x509", "ca", "init", "--out", win(ca), "--subject", "CN=Factory CA"])).code).toBe(0);
    // --force replaces the pair as one set (old files moved aside, new ones moved in, old removed).
    const first = readFileSync(join(ca, "ca.pem"), "utf8");
    expect((await exe(["x509", "ca", "init", "--out", win(ca), "--subject", "CN=Factory CA", "--force"])).code).toBe(0);
    expect(readFileSync(join(ca, "ca.pem"), "utf8")).not.toBe(first);
    expect(readdirSync(ca).sort()).toEqual(["ca.key", "ca.pem"]);
    const out = join(dir, "provisioned");
    const r = await exe(["x509", "provision", "--port", "COM9", "--ca", win(join(ca, "ca.pem")), "--ca-key", win(join(ca, "ca.key")), "--out-dir", win(out), "--line-delay", "5", "--settle", "20", "--json"], { timeoutMs: 90_000 });
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ ok: true, serial: "0123aabbccddeeff01", certificate: { subject: "CN=0123aabbccddeeff01" } });
    expect(result.steps.map((s: { send: string }) => s.send).join("")).toBe("rskcvbpoq");
    const device = join(out, "0123aabbccddeeff01-device.pem");
    const verified = Bun.spawnSync(["openssl", "verify", "-CAfile", join(ca, "ca.pem"), device], { stdout: "pipe" });
    expect(verified.stdout.toString()).toBe(`${device}: OK\n`);
  }, 120_000);
});
