// Every writer on a real, nearly full disk (a small tmpfs; the tests run as root in CI and skip
// with a message otherwise): each fails with one line naming the file and the full disk, exit
// 1, and leaves nothing under the final name (files already finished stay whole).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlLogEntry } from "../../src/controllog/format.ts";
import { controlLogEntryFor, writeControlLog } from "../../src/controllog/writer.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { swtool } from "../helpers/cli.ts";
import { smallDisk, type SmallDisk } from "../helpers/disk.ts";
import { makeDevice, makeEntry, makeTestLine, writeLogFile, type TestLine } from "../controllog/fixtures.ts";
import { APP_KEY_HEX, input } from "../mfg/fixtures.ts";
import { CURVES, computeSmsn, encodeCsr, makeCsr, toBase64, type Curve } from "../../src/sidewalk/index.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("full");
const disks: SmallDisk[] = [];
afterAll(() => disks.forEach((d) => d.unmount()));
/** A small disk filled to `leave` bytes free, or undefined (skipped) where tmpfs cannot be mounted. */
function fullDisk(leave: number, size = 64 * 1024): SmallDisk | undefined {
  const d = smallDisk(size);
  if (!d) return undefined;
  disks.push(d);
  d.fill(leave);
  return d;
}
/** What is on the disk besides the filler. */
const left = (d: SmallDisk, sub = "") => readdirSync(join(d.dir, sub)).filter((n) => !n.startsWith("filler-")).sort();
const FULL = (path: string) => `error: cannot write ${path}: the disk is full\n  fix: free space on that disk, or write to another one\n`;

let line: TestLine;
let entries: ControlLogEntry[];
beforeAll(async () => {
  line = makeTestLine();
  entries = [];
  // About 1.9 KB each: 48 make a consolidated log larger than the pre-flight's 64 KiB minimum.
  for (let i = 0; i < 48; i++) entries.push(await makeEntry(line));
});

describe("full disk", () => {
  async function shiftLogs(): Promise<{ logs: string; ledgerPath: string }> {
    const logs = tempDir();
    const ledgerPath = join(logs, "swtool.db");
    const ledger = await openLedger(ledgerPath);
    for (const [i, e] of entries.entries()) await ledger.recordControlLog(writeLogFile(logs, `C_CONTROL_LOG_202611210000${String(i).padStart(2, "0")}.txt`, [e]), e.serialNumber);
    await ledger.close();
    return { logs, ledgerPath };
  }
  const pending = async (ledgerPath: string) => {
    const check = await openLedger(ledgerPath);
    try {
      return (await check.pendingControlLogs()).length;
    } finally {
      await check.close();
    }
  };

  test("consolidate onto a nearly full disk: the write that does not fit fails, no output, nothing marked", async () => {
    const disk = fullDisk(72 * 1024, 256 * 1024);
    if (!disk) return;
    const { logs, ledgerPath } = await shiftLogs();
    const out = join(disk.dir, "C_CONTROL_LOG_batch.txt");
    const r = await swtool(["consolidate", logs, "--new-only", "-o", out]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: FULL(out) });
    expect(left(disk)).toEqual([]);
    expect(await pending(ledgerPath)).toBe(48);
  });

  test("consolidate onto a full disk: refused before the logs are read", async () => {
    const disk = fullDisk(4096);
    if (!disk) return;
    const { logs, ledgerPath } = await shiftLogs();
    const r = await swtool(["consolidate", logs, "--new-only", "-o", join(disk.dir, "batch.txt")]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `error: -o: the disk of ${disk.dir} is full (4 KiB free)\n  fix: free space on that disk, or write to another one\n` });
    expect(left(disk)).toEqual([]);
    expect(await pending(ledgerPath)).toBe(48);
  });

  test("import-csv with 4 KB free: exit 1, no half-written CSV", async () => {
    const disk = fullDisk(4096);
    if (!disk) return;
    const ledgerPath = join(tempDir(), "swtool.db");
    const ledger = await openLedger(ledgerPath);
    for (let i = 0; i < 115; i++) await ledger.recordAttempt({ port: "p", dsn: `SN${i}`, smsn: i.toString(16).padStart(64, "a"), apid: "pd25", stage: "test", result: "provisioned" });
    await ledger.close();
    const out = join(disk.dir, "devices.csv");
    expect(await swtool(["import-csv", "--from", ledgerPath, "-o", out])).toEqual({ code: 1, stdout: "", stderr: FULL(out) });
    expect(left(disk)).toEqual([]);
  });

  test("mfg build: neither the page nor its HEX is left", async () => {
    const disk = fullDisk(0);
    if (!disk) return;
    const bin = join(disk.dir, "p.bin");
    const r = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--output_bin", bin, "--output_hex", join(disk.dir, "p.hex")]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `error: --output_bin: the disk of ${disk.dir} is full (0 KiB free)\n  fix: free space on that disk, or write to another one\n` });
    expect(left(disk)).toEqual([]);
  });

  test("keygen: stops at the full disk; every key file left is whole", async () => {
    const disk = fullDisk(6 * 4096);
    if (!disk) return;
    const r = await swtool(["keygen", "--out-dir", disk.dir, "--count", "20"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const failed = /^error: cannot write (.+): the disk is full\n {2}fix: free space on that disk, or write to another one\n$/.exec(r.stderr);
    expect(failed).not.toBeNull();
    const files = left(disk);
    expect(files.length).toBeGreaterThan(0);
    expect(files).not.toContain(failed![1]!.slice(disk.dir.length + 1));
    for (const f of files) {
      expect(f).toMatch(/^device-\d\d_(ed25519|p256r1)\.pem$/);
      expect(createPrivateKey(readFileSync(join(disk.dir, f), "utf8")).type).toBe("private");
    }
  });

  // One 4 KiB page free: the set would not fit, and the pre-flight says so before the CA key signs.
  test("pki init: refused before the CA key signs; no file of the authority is left", async () => {
    const disk = fullDisk(4096);
    if (!disk) return;
    const out = join(disk.dir, "pki");
    const r = await swtool(["pki", "init", "--out", out, "--server-name", "signing.local"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `error: --out: the disk of ${out} is full (4 KiB free)\n  fix: free space on that disk, or write to another one\n` });
    expect(left(disk, "pki")).toEqual([]);
  });

  test("x509 ca init: no certificate without its key (ca.key has a temporary file and fsync too)", async () => {
    const disk = fullDisk(4096);
    if (!disk) return;
    const out = join(disk.dir, "ca");
    const r = await swtool(["x509", "ca", "init", "--out", out, "--subject", "CN=Line CA"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: FULL(join(out, "ca.key")) });
    expect(left(disk, "ca")).toEqual([]);
  });

  test("ledger --csv -o: the export is complete or absent", async () => {
    const disk = fullDisk(72 * 1024, 512 * 1024);
    if (!disk) return;
    const ledgerPath = join(tempDir(), "swtool.db");
    const ledger = await openLedger(ledgerPath);
    await ledger.transaction(async (tx) => {
      for (let i = 0; i < 1000; i++) await tx.recordAttempt({ port: "/dev/ttyUSB0", dsn: `SN${i}`, smsn: i.toString(16).padStart(64, "b"), apid: "pd25", stage: "test", result: "provisioned" });
    });
    await ledger.close();
    const out = join(disk.dir, "attempts.csv");
    expect(await swtool(["ledger", "--ledger", ledgerPath, "--csv", "-o", out])).toEqual({ code: 1, stdout: "", stderr: FULL(out) });
    expect(left(disk)).toEqual([]);
  });

  test("control logs: the writer throws, no partial log", async () => {
    const disk = fullDisk(0);
    if (!disk) return;
    const entry = controlLogEntryFor(await makeDevice(line), "pd25", "test");
    const now = new Date(2026, 10, 21, 10, 15, 0);
    await expect(writeControlLog(disk.dir, [entry], { now })).rejects.toThrow(`cannot write ${join(disk.dir, "C_CONTROL_LOG_20261121101500.txt")}: the disk is full`);
    expect(left(disk)).toEqual([]);
  });

  test("sign: a full --control_log_dir is found before the HSM is asked for anything", async () => {
    const disk = fullDisk(0);
    if (!disk) return;
    const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SNF0001", apid: "pd25", stage: "test" });
    const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, CURVES[c].randomPrivateKey(), smsn)));
    // A dead connector: had it been asked anything first, the error would name it.
    const r = await swtool(["sign", "-p", "TEST_DAK_LINE", "-c", "http://127.0.0.1:9", "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1"), "-a", "pd25", "--control_log_dir", disk.dir], {
      env: { SWTOOL_HSM_PIN: "x" },
    });
    expect(r.stderr).toBe(`error: --control_log_dir: the disk of ${disk.dir} is full (0 KiB free)\n  fix: free space on that disk, or write to another one\n`);
  });
});
