// A CA key held in the YubiHSM 2 simulator over HTTP on 127.0.0.1: root certificate and device
// certificates signed through the HSM client, checked by the real OpenSSL.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HsmClient } from "../../src/hsm/client.ts";
import { ALGORITHM, capability } from "../../src/hsm/protocol.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { issueDeviceCertificate, loadCa, selfSignCa } from "../../src/x509/ca.ts";
import { certificatePem } from "../../src/x509/certificate.ts";
import { hsmKeyId, hsmSigner } from "../../src/x509/hsm-signer.ts";
import { parseDevicePublicKey } from "../../src/x509/pubkey.ts";
import { swtool } from "../helpers/cli.ts";
import { seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { openssl } from "../helpers/system.ts";
const opensslStdout = (...args: string[]) => openssl(...args).stdout;

const CA_KEY = 0x0100;
const ED_KEY = 0x0101;
const dir = scratchDir("x509-hsm");
let sim: HsmSimulator;
let client: HsmClient;
/** Commands the simulator ran (one line each), to show a refused run asked the HSM nothing. */
const commands: string[] = [];

beforeAll(async () => {
  sim = await startHsmSimulator({ log: (line) => commands.push(line) });
  client = await HsmClient.connect({ url: sim.url, authKeyId: 1, password: "password" });
  await client.generateAsymmetricKey({ id: CA_KEY, label: "x509 lab CA", domains: 1, capabilities: capability("SIGN_ECDSA"), algorithm: ALGORITHM.EC_P256 });
  await client.generateAsymmetricKey({ id: ED_KEY, label: "not a CA key", domains: 1, capabilities: capability("SIGN_EDDSA"), algorithm: ALGORITHM.EC_ED25519 });
});
afterAll(async () => {
  await client.close();
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});


describe("x509 with the CA key in the HSM", () => {
  test("root and device certificate signed in the HSM; openssl verifies", async () => {
    const signer = await hsmSigner(client, CA_KEY);
    expect(signer.description).toBe("HSM key 0x0100");
    const root = await selfSignCa(signer, { subject: "CN=HSM Lab CA" });
    const caPem = join(dir, "hsm-ca.pem");
    writeFileSync(caPem, certificatePem(root.der));
    const ca = loadCa(root.der, signer);
    const issued = await issueDeviceCertificate({ publicKey: parseDevicePublicKey(seed.x509_device_public_key.pem), ca, signer, subject: "CN=hsm-device" });
    const device = join(dir, "hsm-device.pem");
    writeFileSync(device, issued.pem);
    expect(opensslStdout("verify", "-CAfile", caPem, device)).toBe(`${device}: OK\n`);
    expect(opensslStdout("x509", "-in", device, "-noout", "-pubkey")).toBe(seed.x509_device_public_key.pem);
  });

  test("a key that is not P-256, a missing key, bad ids", async () => {
    await expect(hsmSigner(client, ED_KEY)).rejects.toThrow("HSM key 0x0101 is ed25519, not a P-256 key");
    await expect(hsmSigner(client, 0x0777)).rejects.toThrow(/0x0777/);
    expect(() => hsmKeyId("hsm:0x10000")).toThrow("is not an HSM object id");
    expect(() => hsmKeyId("hsm:abc")).toThrow("is not an HSM object id");
    expect(hsmKeyId("hsm:0x0100")).toBe(256);
    expect(hsmKeyId("hsm:256")).toBe(256);
  });

  test("CLI: ca init and issue with --ca-key hsm:<id>; the PIN never shows", async () => {
    const env = { SWTOOL_HSM_PIN: "password" };
    const hsmArgs = ["--ca-key", "hsm:0x0100", "--connector", sim.url, "--pin-slot", "1"];
    const caDir = join(dir, "cli-ca");
    const init = await swtool(["x509", "ca", "init", "--out", caDir, "--subject", "CN=HSM CLI CA", ...hsmArgs], { env });
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("CA key:         HSM key 0x0100");
    const device = join(dir, "cli-device.pem");
    const issue = await swtool(["x509", "issue", "--pubkey", seed.x509_device_public_key.der_hex, "--ca", join(caDir, "ca.pem"), ...hsmArgs, "--out", device], { env });
    expect(issue.code).toBe(0);
    expect(opensslStdout("verify", "-CAfile", join(caDir, "ca.pem"), device)).toBe(`${device}: OK\n`);
    const wrongPin = await swtool(["x509", "issue", "--pubkey", seed.x509_device_public_key.der_hex, "--ca", join(caDir, "ca.pem"), ...hsmArgs], { env: { SWTOOL_HSM_PIN: "wrong-pin-1234" } });
    expect(wrongPin.code).toBe(1);
    expect(wrongPin.stderr + wrongPin.stdout).not.toContain("wrong-pin-1234");
    expect(wrongPin.stderr).toMatch(/PIN|authenticat/i);
  });

  test("CLI: an --out that cannot be written is refused before the HSM signs (no HSM command at all)", async () => {
    const env = { SWTOOL_HSM_PIN: "password" };
    const hsmArgs = ["--ca-key", "hsm:0x0100", "--connector", sim.url, "--pin-slot", "1"];
    const caDir = join(dir, "cli-ca");
    const taken = join(dir, "taken.pem");
    writeFileSync(taken, "an earlier certificate\n");
    commands.length = 0;
    const missing = await swtool(["x509", "issue", "--pubkey", seed.x509_device_public_key.der_hex, "--ca", join(caDir, "ca.pem"), ...hsmArgs, "--out", "/nonexistent/d.pem"], { env });
    expect(missing).toEqual({ code: 1, stdout: "", stderr: "error: --out: the directory /nonexistent does not exist\n  fix: create it first, or give another path\n" });
    const exists = await swtool(["x509", "issue", "--pubkey", seed.x509_device_public_key.der_hex, "--ca", join(caDir, "ca.pem"), ...hsmArgs, "--out", taken], { env });
    expect(exists).toEqual({ code: 1, stdout: "", stderr: `error: --out ${taken} already exists\n  fix: choose another path, or add --force to replace it\n` });
    const init = await swtool(["x509", "ca", "init", "--out", caDir, "--subject", "CN=again", ...hsmArgs], { env });
    expect(init).toEqual({ code: 1, stdout: "", stderr: `error: --out ${join(caDir, "ca.pem")} already exists\n  fix: choose another path, or add --force to replace it\n` });
    expect(commands).toEqual([]);
  });

  test("pki init and pki client with the nginx authority's CA key in the HSM: no ca.key anywhere, openssl verifies both", async () => {
    const env = { SWTOOL_HSM_PIN: "password" };
    const hsmArgs = ["--ca-key", "hsm:0x0100", "--connector", sim.url, "--pin-slot", "1"];
    const pki = join(dir, "pki-hsm");
    const init = await swtool(["pki", "init", "--out", pki, "--server-name", "signing.lan,10.1.2.3", ...hsmArgs], { env });
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain("(key HSM key 0x0100, never leaves the HSM)");
    expect(existsSync(join(pki, "ca.key"))).toBe(false);
    expect(opensslStdout("verify", "-CAfile", join(pki, "ca.pem"), "-purpose", "sslserver", "-verify_hostname", "signing.lan", join(pki, "server.pem"))).toBe(`${join(pki, "server.pem")}: OK\n`);
    const client = await swtool(["pki", "client", "--ca", pki, "--name", "LINEPC-09", ...hsmArgs], { env });
    expect(client.code).toBe(0);
    const bundle = join(pki, "clients", "LINEPC-09");
    expect(opensslStdout("verify", "-CAfile", join(bundle, "ca.pem"), "-purpose", "sslclient", join(bundle, "client.pem"))).toBe(`${join(bundle, "client.pem")}: OK\n`);
    // Without --ca-key the authority's key is looked for on disk, where it is not.
    const noKey = await swtool(["pki", "client", "--ca", pki, "--name", "LINEPC-10"], { env });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain(`${join(pki, "ca.key")} not found`);
  });
});
