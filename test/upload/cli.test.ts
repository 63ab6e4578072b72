// swtool upload / feedback end to end: the compiled binary (ssh2 inside it) against a real sshd.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { makeEntry, makeTestLine, writeLogFile } from "../controllog/fixtures.ts";
import { swtool } from "../helpers/cli.ts";
import type { ControlLogEntry } from "../../src/controllog/format.ts";
import { startSshd, type Sshd } from "./sshd.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

let sshd: Sshd;
let encrypted: Sshd;
/** One valid device entry: upload validates every log before it connects. */
let validEntry: ControlLogEntry;
/** A valid control log at a new path named `name`; returns the path and its size. */
const validLog = (name: string) => {
  const path = writeLogFile(tempDir(), name, [validEntry]);
  return { path, size: readFileSync(path).length };
};
beforeAll(async () => {
  validEntry = await makeEntry(makeTestLine());
  sshd = await startSshd();
  encrypted = await startSshd({ passphrase: "correct horse" });
});
afterAll(async () => {
  await sshd?.stop();
  await encrypted?.stop();
});

const tempDir = () => scratchDir("upcli");
const ssh = (s: Sshd, key = s.clientKey) => ["--host", "127.0.0.1", "--port", String(s.port), "--user", s.user, "--key", key, "--host-key", s.hostFingerprint];

describe("swtool upload", () => {
  test("uploads and prints where the file went", { timeout: 60_000 }, async () => {
    const { path: file, size } = validLog("C_CONTROL_LOG_20261121120000.txt");
    const r = await swtool(["upload", file, ...ssh(sshd), "--remote-dir", sshd.uploadDir]);
    expect(r.stderr).toContain(`uploaded ${size} bytes in 1 attempt`);
    expect(r.stdout).toBe(`${sshd.user}@[127.0.0.1]:${sshd.port}:${join(sshd.uploadDir, "C_CONTROL_LOG_20261121120000.txt")}\n`);
    expect(r.code).toBe(0);
    expect(readFileSync(join(sshd.uploadDir, "C_CONTROL_LOG_20261121120000.txt"), "utf8")).toBe(readFileSync(file, "utf8"));
    const json = await swtool(["upload", file, ...ssh(sshd), "--remote-dir", sshd.uploadDir, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, alreadyPresent: true, bytes: size, attempts: 1 });
  });

  test("refuses a wrong host key and a wrong client key, exit 1, nothing uploaded", { timeout: 60_000 }, async () => {
    const { path: file } = validLog("C_CONTROL_LOG_20261121130000.txt");
    const wrongHost = await swtool(["upload", file, ...ssh(sshd).slice(0, -1), "SHA256:" + "B".repeat(43), "--remote-dir", sshd.uploadDir]);
    expect(wrongHost.code).toBe(1);
    expect(wrongHost.stderr).toContain(`error: [127.0.0.1]:${sshd.port} presented ssh-ed25519 host key ${sshd.hostFingerprint}, not the expected SHA256:${"B".repeat(43)}`);
    const wrongKey = await swtool(["upload", file, ...ssh(sshd, sshd.strangerKey), "--remote-dir", sshd.uploadDir]);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain(`error: ${sshd.user}@[127.0.0.1]:${sshd.port} refused the SSH key`);
    expect(readdirSync(sshd.uploadDir)).not.toContain("C_CONTROL_LOG_20261121130000.txt");
    const unknown = await swtool(["upload", file, "--host", "127.0.0.1", "--port", String(sshd.port), "--user", sshd.user, "--key", sshd.clientKey, "--known-hosts", join(tempDir(), "kh")]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`--host-key ${sshd.hostFingerprint} or --accept-new-host-key`);
  });

  test("an encrypted key: passphrase from --passphrase-env; missing or wrong is a usage error", { timeout: 60_000 }, async () => {
    const { path: file } = validLog("C_CONTROL_LOG_20261121140000.txt");
    const args = ["upload", file, ...ssh(encrypted), "--remote-dir", encrypted.uploadDir];
    const missing = await swtool(args);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`error: the key ${encrypted.clientKey} is encrypted`);
    const wrong = await swtool([...args, "--passphrase-env", "KEY_PASS"], { env: { KEY_PASS: "wrong" } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`error: the passphrase does not decrypt ${encrypted.clientKey}`);
    const ok = await swtool([...args, "--passphrase-env", "KEY_PASS"], { env: { KEY_PASS: "correct horse" } });
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain("correct horse");
  });
});

describe("swtool feedback", () => {
  const smsn = (n: number) => n.toString(16).padStart(64, "0");
  const header = "Record Id,ProductInstanceIdentifier,ProductIdentifier,Status,Error Details\n";
  const row = (n: number, status: string, details = "") => `${n},"{""serialNumber"":""${smsn(n)}""}","{""advertisedProductId"":""pd25""}",${status},${details}\n`;

  test("downloads, prints each device, exits 1 when one failed", { timeout: 60_000 }, async () => {
    writeFileSync(join(sshd.feedbackDir, "fb_1.csv"), header + row(1, "SUCCESS") + row(2, "FAILED", '"{""reason"":""bad chain""}"'));
    const out = join(tempDir(), "feedback");
    const r = await swtool(["feedback", ...ssh(sshd), "--remote-dir", sshd.feedbackDir, "--out", out]);
    expect(r.stdout).toBe(`${smsn(1)} OK SUCCESS\n${smsn(2)} FAILED FAILED: {"reason":"bad chain"}\n`);
    expect(r.stderr).toContain(`downloaded ${join(out, "fb_1.csv")}`);
    expect(r.code).toBe(1);
    const local = await swtool(["feedback", "--file", join(out, "fb_1.csv"), "--json"]);
    expect(local.code).toBe(1);
    expect(JSON.parse(local.stdout)).toMatchObject({ ok: false, devices: 2, accepted: 1, failed: 1 });
  });

  test("all accepted: exit 0", async () => {
    const file = join(tempDir(), "fb.csv");
    writeFileSync(file, header + row(7, "SUCCESS"));
    const r = await swtool(["feedback", "--file", file]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${smsn(7)} OK SUCCESS\n`);
  });
});

describe("with the ledger", () => {
  test("consolidate, upload (recorded), feedback matched by SMSN: missing and failed devices exit 1", { timeout: 60_000 }, async () => {
    const line = makeTestLine();
    const entries = [await makeEntry(line), await makeEntry(line), await makeEntry(line)];
    const logs = tempDir();
    entries.forEach((e, i) => writeLogFile(logs, `C_CONTROL_LOG_2026112115000${i}.txt`, [e]));
    const ledgerPath = join(logs, "swtool.db");
    const ledger = await openLedger(ledgerPath);
    await ledger.recordAttempt({ port: "tty0", dsn: "DSN-1", smsn: entries[0]!.serialNumber, apid: "pd25", stage: "test", result: "provisioned" });
    await ledger.close();
    const batch = join(logs, "shift.txt");
    expect((await swtool(["consolidate", logs, "-o", batch])).code).toBe(0);
    const up = await swtool(["upload", batch, ...ssh(sshd), "--remote-dir", sshd.uploadDir]);
    expect(up.code).toBe(0);
    expect(up.stderr).toContain(`recorded in the ledger ${ledgerPath}`);
    const check = await openLedger(ledgerPath);
    expect((await check.uploads()).map((u) => [u.file, u.target, u.remotePath])).toEqual([[batch, `${sshd.user}@[127.0.0.1]:${sshd.port}`, join(sshd.uploadDir, "shift.txt")]]);
    await check.close();

    const csv = join(tempDir(), "fb.csv");
    const row = (e: ControlLogEntry, status: string) => `1,"{""serialNumber"":""${e.serialNumber}""}","{""advertisedProductId"":""pd25""}",${status},\n`;
    writeFileSync(csv, "Record Id,ProductInstanceIdentifier,ProductIdentifier,Status,Error Details\n" + row(entries[0]!, "SUCCESS") + row(entries[1]!, "SUCCESS"));
    const fb = await swtool(["feedback", "--file", csv, "--ledger", ledgerPath]);
    expect(fb.code).toBe(1);
    expect(fb.stdout).toContain(`${entries[0]!.serialNumber} DSN-1 OK SUCCESS\n`);
    expect(fb.stdout).toContain(`${entries[2]!.serialNumber} MISSING uploaded, no feedback yet\n`);
    expect(fb.stderr).toContain("2 accepted, 0 failed, 1 uploaded but missing");
  });
});
