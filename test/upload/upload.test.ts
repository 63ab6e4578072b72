// SFTP upload and feedback against a real OpenSSH sshd on 127.0.0.1: round trip, host key
// checks (pinned, known_hosts plain and hashed, trust on first use, changed key), wrong client
// key, a connection dropped mid-upload and retried with no partial file ever visible.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { AuthenticationError, type SshTarget } from "../../src/upload/connection.ts";
import { downloadFeedback, feedbackFiles, readFeedback } from "../../src/upload/feedback.ts";
import { HostKeyError } from "../../src/upload/host-key.ts";
import { RemoteFileExistsError, uploadFile } from "../../src/upload/upload.ts";
import { startDropProxy } from "./drop-proxy.ts";
import { startSshd, type Sshd } from "./sshd.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

const tempDir = () => scratchDir("up");
const target = (over: Partial<SshTarget> = {}): SshTarget => ({
  host: "127.0.0.1",
  port: sshd.port,
  user: sshd.user,
  privateKey: readFileSync(sshd.clientKey, "utf8"),
  hostKey: { kind: "fingerprint", fingerprints: [sshd.hostFingerprint] },
  ...over,
});

function localLog(bytes = 300_000): string {
  const path = join(tempDir(), `C_CONTROL_LOG_${Date.now()}${randomBytes(2).toString("hex")}.txt`);
  writeFileSync(path, randomBytes(bytes / 2).toString("hex"));
  return path;
}

const uploaded = () => readdirSync(sshd.uploadDir);

describe("uploadFile", () => {
  test("uploads under a temporary name, checks the size, renames", async () => {
    const file = localLog();
    const name = file.split("/").pop()!;
    const result = await uploadFile({ file, target: target(), remoteDir: sshd.uploadDir });
    expect(result).toEqual({ remotePath: join(sshd.uploadDir, name), bytes: 300_000, attempts: 1, alreadyPresent: false });
    expect(readFileSync(join(sshd.uploadDir, name))).toEqual(readFileSync(file));
    expect(uploaded()).not.toContain(`.${name}.part`);
    // The same file again: already there, not sent twice.
    expect((await uploadFile({ file, target: target(), remoteDir: sshd.uploadDir })).alreadyPresent).toBe(true);
  });

  test("a different file of the same name on the server is refused, not replaced", async () => {
    const file = localLog(1000);
    const name = file.split("/").pop()!;
    writeFileSync(join(sshd.uploadDir, name), "someone else's file");
    await expect(uploadFile({ file, target: target(), remoteDir: sshd.uploadDir })).rejects.toThrow(RemoteFileExistsError);
    expect(readFileSync(join(sshd.uploadDir, name), "utf8")).toBe("someone else's file");
  });

  test("a wrong pinned host key is refused before the key is offered", async () => {
    const file = localLog(1000);
    const wrong = "SHA256:" + "A".repeat(43);
    const error = await uploadFile({ file, target: target({ hostKey: { kind: "fingerprint", fingerprints: [wrong] } }), remoteDir: sshd.uploadDir, retries: 2, retryDelayMs: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(HostKeyError);
    expect(error.message).toBe(`[127.0.0.1]:${sshd.port} presented ssh-ed25519 host key ${sshd.hostFingerprint}, not the expected ${wrong}`);
    expect(uploaded()).not.toContain(file.split("/").pop());
  });

  test("known_hosts: unknown refused, accepted on first use when asked, then changed key refused", async () => {
    const knownHosts = join(tempDir(), "known_hosts");
    const file = localLog(1000);
    const policy = (acceptNew: boolean) => ({ kind: "known-hosts" as const, file: knownHosts, acceptNew });
    await expect(uploadFile({ file, target: target({ hostKey: policy(false) }), remoteDir: sshd.uploadDir })).rejects.toThrow(
      `[127.0.0.1]:${sshd.port} is not in ${knownHosts}; its ssh-ed25519 host key is ${sshd.hostFingerprint}`,
    );
    expect(existsSync(knownHosts)).toBe(false);
    await uploadFile({ file, target: target({ hostKey: policy(true) }), remoteDir: sshd.uploadDir });
    expect(readFileSync(knownHosts, "utf8")).toBe(`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    // Known now: accepted without --accept-new-host-key.
    expect((await uploadFile({ file, target: target({ hostKey: policy(false) }), remoteDir: sshd.uploadDir })).alreadyPresent).toBe(true);
    // Another key on record for this host: refused even with trust on first use.
    const other = readFileSync(`${sshd.strangerKey}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${other}\n`);
    await expect(uploadFile({ file, target: target({ hostKey: policy(true) }), remoteDir: sshd.uploadDir })).rejects.toThrow("the host key has CHANGED");
  });

  test("known_hosts with hashed host names (ssh-keygen -H)", async () => {
    const knownHosts = join(tempDir(), "known_hosts");
    writeFileSync(knownHosts, `# comment\nother.example ${sshd.hostPublicKey}\n[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    const p = Bun.spawnSync(["ssh-keygen", "-H", "-f", knownHosts], { stdout: "ignore", stderr: "ignore" });
    expect(p.exitCode).toBe(0);
    expect(readFileSync(knownHosts, "utf8")).not.toContain("127.0.0.1");
    const file = localLog(1000);
    const result = await uploadFile({ file, target: target({ hostKey: { kind: "known-hosts", file: knownHosts, acceptNew: false } }), remoteDir: sshd.uploadDir });
    expect(result.alreadyPresent).toBe(false);
  });

  test("a client key the server does not know is refused, without retries", async () => {
    const file = localLog(1000);
    const error = await uploadFile({ file, target: target({ privateKey: readFileSync(sshd.strangerKey, "utf8") }), remoteDir: sshd.uploadDir, retries: 3, retryDelayMs: 0 }).catch((e) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error.message).toBe(`${sshd.user}@[127.0.0.1]:${sshd.port} refused the SSH key`);
    expect(uploaded()).not.toContain(file.split("/").pop());
  });

  test("a connection dropped mid-upload is retried; no partial file is ever under the final name", { timeout: 60_000 }, async () => {
    const file = localLog(2_000_000);
    const name = file.split("/").pop()!;
    const seenAtDrop: string[][] = [];
    const proxy = await startDropProxy(sshd.port, { dropAfterBytes: 600_000, dropConnections: 1, onDrop: () => seenAtDrop.push(uploaded()) });
    const retries: number[] = [];
    try {
      const result = await uploadFile({
        file,
        target: target({ port: proxy.port, hostKey: { kind: "fingerprint", fingerprints: [sshd.hostFingerprint] } }),
        remoteDir: sshd.uploadDir,
        retries: 2,
        retryDelayMs: 10,
        onRetry: (attempt) => retries.push(attempt),
      });
      expect(result.attempts).toBe(2);
      expect(retries).toEqual([1]);
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
    expect(seenAtDrop).toHaveLength(1);
    expect(seenAtDrop[0]).not.toContain(name);
    expect(readFileSync(join(sshd.uploadDir, name))).toEqual(readFileSync(file));
    expect(uploaded().filter((n) => n.includes(name))).toEqual([name]);
  });

  test("gives up after the retries when the connection keeps dropping", { timeout: 60_000 }, async () => {
    const file = localLog(1_000_000);
    const proxy = await startDropProxy(sshd.port, { dropAfterBytes: 300_000, dropConnections: 10 });
    try {
      const error = await uploadFile({ file, target: target({ port: proxy.port }), remoteDir: sshd.uploadDir, retries: 1, retryDelayMs: 0 }).catch((e) => e);
      expect(error.name).toBe("ConnectionLostError");
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
    expect(uploaded()).not.toContain(file.split("/").pop());
  });
});

describe("feedback", () => {
  const smsn = (n: number) => n.toString(16).padStart(64, "0");
  const csv = (rows: [number, string, string][]) =>
    "Record Id,ProductInstanceIdentifier,ProductIdentifier,Status,Error Details\r\n" +
    rows.map(([n, status, details]) => `${n},"{""serialNumber"":""${smsn(n)}""}","{""advertisedProductId"":""pd25""}",${status},${details}`).join("\r\n") +
    "\r\n";

  test("downloads new CSVs once and reads per-device status with error details", { timeout: 60_000 }, async () => {
    writeFileSync(join(sshd.feedbackDir, "feedback_20261121.csv"), csv([[1, "SUCCESS", ""], [2, "FAILED", '"{""code"":""INVALID_CHAIN"",""message"":""chain, does not verify""}"']]));
    writeFileSync(join(sshd.feedbackDir, "readme.txt"), "not feedback");
    const out = tempDir();
    const first = await downloadFeedback({ target: target(), remoteDir: sshd.feedbackDir, outDir: out });
    expect(first.downloaded).toEqual([join(out, "feedback_20261121.csv")]);
    writeFileSync(join(sshd.feedbackDir, "feedback_20261122.csv"), csv([[2, "SUCCESS", ""], [3, "SUCCESS", ""]]));
    const second = await downloadFeedback({ target: target(), remoteDir: sshd.feedbackDir, outDir: out });
    expect(second.downloaded).toEqual([join(out, "feedback_20261122.csv")]);
    expect(second.alreadyHere).toEqual([join(out, "feedback_20261121.csv")]);
    const report = readFeedback(feedbackFiles(out));
    expect(report.rows).toBe(4);
    expect(report.devices.map((d) => [d.smsn, d.latest.status, d.latest.accepted])).toEqual([
      [smsn(1), "SUCCESS", true],
      [smsn(2), "SUCCESS", true],
      [smsn(3), "SUCCESS", true],
    ]);
    const onlyFirst = readFeedback([join(out, "feedback_20261121.csv")]);
    expect(onlyFirst.failed.map((d) => [d.smsn, d.latest.errorDetails])).toEqual([[smsn(2), '{"code":"INVALID_CHAIN","message":"chain, does not verify"}']]);
  });
});
