// swtool x509 end to end on the compiled binary: pubkey, ca init, issue, verify, with the
// files checked by the real OpenSSL and the exit-code contract (0 ok, 1 failed, 2 usage).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSwtool } from "../../harness/process.ts";
import { swtool } from "../helpers/cli.ts";
import { seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { openssl } from "../helpers/system.ts";
import { startAtecc608OnTcp } from "../../src/x509/simulator/host.ts";
const opensslStdout = (...args: string[]) => openssl(...args).stdout;

const dir = scratchDir("x509-cli");
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const vector = seed.x509_device_public_key;
const dump = join(dir, "console.txt");
writeFileSync(dump, `boot noise 12 34\n${vector.console_dump}\nmore noise\n`);


describe("swtool x509 (binary)", () => {
  test("pubkey from a console capture file and from standard input", async () => {
    expect(await swtool(["x509", "pubkey", dump])).toEqual({ code: 0, stdout: vector.pem, stderr: "" });
    const r = await swtool(["x509", "pubkey", "-", "--json"], { stdin: vector.console_dump });
    expect(JSON.parse(r.stdout).pem).toBe(vector.pem);
    expect(await swtool(["x509", "pubkey", vector.der_hex])).toMatchObject({ code: 0, stdout: vector.pem });
  });

  test("pubkey refuses a truncated key with the reason", async () => {
    const r = await swtool(["x509", "pubkey", vector.der_hex.slice(0, 100)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: x509.pubkey: truncated key: its DER declares 91 bytes but only 50 are there\n  fix: copy the whole key again (a P-256 key is 91 bytes of DER, 182 hex digits)\n");
  });

  test("ca init, issue, verify; openssl agrees", async () => {
    const ca = join(dir, "ca");
    const init = await swtool(["x509", "ca", "init", "--out", ca, "--subject", "CN=Line CA,O=Acme", "--key-type", "rsa2048"]);
    expect(init.code).toBe(0);
    expect(statSync(join(ca, "ca.key")).mode & 0o777).toBe(0o600);
    const again = await swtool(["x509", "ca", "init", "--out", ca, "--subject", "CN=Line CA"]);
    expect(again).toMatchObject({ code: 1, stderr: `error: ${join(ca, "ca.pem")} already exists\n  fix: choose another path, or add --force to replace it\n` });

    const device = join(dir, "device.pem");
    const issue = await swtool(["x509", "issue", "--pubkey", dump, "--ca", join(ca, "ca.pem"), "--ca-key", join(ca, "ca.key"), "--subject", "CN=0123c4b09bb2b877ee", "--days", "30", "--out", device]);
    expect(issue.code).toBe(0);
    expect(opensslStdout("verify", "-CAfile", join(ca, "ca.pem"), device)).toBe(`${device}: OK\n`);
    expect(opensslStdout("x509", "-in", device, "-noout", "-pubkey")).toBe(vector.pem);

    const verify = await swtool(["x509", "verify", device, "--ca", join(ca, "ca.pem"), "--json"]);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, certificate: { subject: "CN=0123c4b09bb2b877ee", issuer: "CN=Line CA, O=Acme" }, chain: ["CN=0123c4b09bb2b877ee", "CN=Line CA, O=Acme"] });

    const other = join(dir, "other");
    expect((await swtool(["x509", "ca", "init", "--out", other, "--subject", "CN=Line CA,O=Acme"])).code).toBe(0);
    const wrong = await swtool(["x509", "verify", device, "--ca", join(other, "ca.pem")]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("FAILED certificate signature: the signature does not verify with the issuer's key");
    const mismatch = await swtool(["x509", "issue", "--pubkey", dump, "--ca", join(other, "ca.pem"), "--ca-key", join(ca, "ca.key")]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr).toContain("does not belong to the CA certificate");
  });

  test("usage errors exit 2", async () => {
    expect((await swtool(["x509", "ca", "init", "--out", dir, "--subject", "CN=x", "--key-type", "ed25519"])).code).toBe(2);
    expect((await swtool(["x509", "issue", "--pubkey", dump, "--ca", "nope.pem", "--ca-key", "nope.key"])).code).toBe(2);
    expect((await swtool(["x509", "issue", "--pubkey", dump, "--ca", dump, "--ca-key", dump, "--days", "ten"])).code).toBe(2);
  });
});

/** Starts `swtool x509 simulate` and returns the port of its ready line and a stop function. */
async function startSimulator(...extra: string[]): Promise<{ port: string; stop: () => Promise<number> }> {
  const where = extra.includes("--pty") ? [] : ["--listen", "127.0.0.1:0"];
  const sim = await spawnSwtool(["x509", "simulate", "--json", ...where, ...extra]);
  return { port: sim.first.port as string, stop: sim.stop };
}

describe("swtool x509 provision and simulate (binary)", () => {
  test("provision a simulated board; files written; openssl verifies", async () => {
    const ca = join(dir, "prov-ca");
    expect((await swtool(["x509", "ca", "init", "--out", ca, "--subject", "CN=Factory CA"])).code).toBe(0);
    const sim = await startSimulator("--serial", "0123AABBCCDDEEFFEE");
    try {
      expect(sim.port).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
      const out = join(dir, "provisioned");
      const r = await swtool(["x509", "provision", "--port", sim.port, "--ca", join(ca, "ca.pem"), "--ca-key", join(ca, "ca.key"), "--out-dir", out, "--line-delay", "5", "--settle", "20", "--json"]);
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout);
      expect(result).toMatchObject({ ok: true, serial: "0123aabbccddeeffee", certificate: { subject: "CN=0123aabbccddeeffee" } });
      expect(result.steps.map((s: { send: string }) => s.send).join("")).toBe("rskcvbpoq");
      const device = join(out, "0123aabbccddeeffee-device.pem");
      expect(opensslStdout("verify", "-CAfile", join(ca, "ca.pem"), device)).toBe(`${device}: OK\n`);
      expect(opensslStdout("x509", "-in", device, "-noout", "-pubkey")).toBe(await Bun.file(join(out, "0123aabbccddeeffee-pubkey.pem")).text());
    } finally {
      await sim.stop();
    }
  });

  test("a board that damages the device certificate: exit 1, transcript written", async () => {
    const ca = join(dir, "prov-ca");
    const sim = await startSimulator("--corrupt", "device-certificate");
    try {
      const transcript = join(dir, "transcript.txt");
      const r = await swtool(["x509", "provision", "--port", sim.port, "--ca", join(ca, "ca.pem"), "--ca-key", join(ca, "ca.key"), "--line-delay", "5", "--settle", "20", "--transcript", transcript]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/error: socket:\/\/127\.0\.0\.1:\d+: read-back: the device-certificate stored on the device differs from what was sent \(first difference at byte \d+ of \d+\)\n  fix: the device is not provisioned/);
      const text = await Bun.file(transcript).text();
      expect(text).toContain('>> "r"');
      expect(text).toContain('Ready.\\r\\n"\n>> "s"');
      expect(text).not.toContain('>> "q"');
    } finally {
      await sim.stop();
    }
  });

  test("--out-dir and --transcript that cannot be written: refused before the CA key opens or the device is touched", async () => {
    const ca = join(dir, "preflight-ca");
    expect((await swtool(["x509", "ca", "init", "--out", ca, "--subject", "CN=Factory CA"])).code).toBe(0);
    const sim = await startAtecc608OnTcp({ serial: "0123aabbccddeeff02" });
    try {
      const blocker = join(dir, "afile");
      writeFileSync(blocker, "in the way\n");
      const args = ["x509", "provision", "--port", sim.port, "--ca", join(ca, "ca.pem"), "--ca-key", join(ca, "ca.key"), "--line-delay", "5", "--settle", "20"];
      const outDir = await swtool([...args, "--out-dir", join(blocker, "d")]);
      expect(outDir.code).toBe(1);
      expect(outDir.stderr).toBe(`error: --out-dir: cannot create the directory ${join(blocker, "d")}: a part of the path is not a directory\n  fix: give a directory that exists or can be created\n`);
      const transcript = await swtool([...args, "--transcript", join(blocker, "t.txt")]);
      expect(transcript.code).toBe(1);
      expect(transcript.stderr).toBe(`error: cannot open ${join(blocker, "t.txt")}: a part of the path is not a directory\n  fix: check that the directory exists, is writable and has free space\n`);
      // The port was never opened: no board powered on, so none holds a certificate.
      expect(sim.boards.map((b) => b.state.deviceCertificate)).toEqual([]);
    } finally {
      await sim.close();
    }
  });

  test.skipIf(process.platform !== "linux")("provision over a pseudo-terminal from `swtool x509 simulate --pty`", async () => {
    const ca = join(dir, "prov-ca");
    const sim = await startSimulator("--pty");
    try {
      expect(sim.port).toMatch(/^\/dev\/pts\/\d+$/);
      const r = await swtool(["x509", "provision", "--port", sim.port, "--ca", join(ca, "ca.pem"), "--ca-key", join(ca, "ca.key"), "--line-delay", "30", "--settle", "50", "--subject", "CN={serial},O=Acme"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^OK ${sim.port}: device 0123[0-9a-f]{12}ee provisioned, certificate CN=0123[0-9a-f]{12}ee, O=Acme serial [0-9a-f]{32}\n$`));
      expect(r.stderr).toContain('9. "q" device reports success');
    } finally {
      await sim.stop();
    }
  });
});
