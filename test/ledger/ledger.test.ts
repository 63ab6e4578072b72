// The ledger: attempts, refusal lookups, the DSN template counter across a crash (a process
// killed with SIGKILL right after taking a number), DAK signature counts, control-log records.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dsnFile, dsnTemplate, fixedDsn, formatTemplate } from "../../src/device/dsn.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { recoverOrphanedAttempts } from "../../src/device/recover.ts";
import { writeControlLogSync } from "../../src/controllog/writer.ts";
import { makeEntry, makeTestLine } from "../controllog/fixtures.ts";
import { REPO } from "../helpers/vectors.ts";
import { tempDir } from "../device/station.ts";
import { writeFileSync } from "node:fs";

const base = { port: "/dev/ttyUSB0", smsn: "ab".repeat(32), apid: "pd25", stage: "test" };

describe("attempts", () => {
  test("begin, finish, list by status and time, refusal lookup by DSN or SMSN", () => {
    const ledger = openLedger(join(tempDir(), "swtool.db"));
    const t0 = new Date("2024-05-01T08:00:00Z");
    const a = ledger.beginAttempt({ ...base, dsn: "SN1", time: t0 });
    ledger.finishAttempt(a, { result: "failed", failedStep: "store", error: "store: ERROR -31", errorCode: -31, deviceAnswer: "{CERT ERROR -31}" });
    const b = ledger.beginAttempt({ ...base, dsn: "SN2", smsn: "cd".repeat(32), time: new Date("2024-05-02T08:00:00Z"), hsmSerial: "123", dak: "TEST/ed25519/01" });
    ledger.finishAttempt(b, { result: "provisioned", controlLog: "/logs/C_CONTROL_LOG_1.txt" });
    ledger.beginAttempt({ ...base, dsn: "SN3", time: new Date("2024-05-03T08:00:00Z") });
    expect(ledger.list().map((r) => r.result)).toEqual(["failed", "provisioned", "in-progress"]);
    expect(ledger.list({ status: "failed" })[0]).toMatchObject({ dsn: "SN1", failedStep: "store", errorCode: -31, deviceAnswer: "{CERT ERROR -31}" });
    expect(ledger.list({ since: "2024-05-02T00:00:00Z" }).map((r) => r.dsn)).toEqual(["SN2", "SN3"]);
    expect(ledger.isProvisioned({ dsn: "SN2" })).toMatchObject({ id: b, hsmSerial: "123", controlLog: "/logs/C_CONTROL_LOG_1.txt" });
    expect(ledger.isProvisioned({ smsn: "CD".repeat(32) })?.id).toBe(b);
    expect(ledger.isProvisioned({ dsn: "SN1" })).toBeUndefined();
    expect(() => ledger.list({ status: "done" as never })).toThrow(/unknown status/);
    ledger.close();
  });

  test("DAK signature counts add up", () => {
    const ledger = openLedger(join(tempDir(), "swtool.db"));
    expect(ledger.signatureCount("D")).toBe(0);
    expect(ledger.addSignatures("D", 2)).toBe(2);
    expect(ledger.addSignatures("D")).toBe(3);
    ledger.close();
  });

  test("control logs through consolidation and upload", () => {
    const ledger = openLedger(join(tempDir(), "swtool.db"));
    ledger.recordControlLog("/l/a.txt", "AA".repeat(32));
    ledger.recordControlLog("/l/b.txt", "bb".repeat(32));
    expect(ledger.pendingControlLogs().map((c) => c.path)).toEqual(["/l/a.txt", "/l/b.txt"]);
    ledger.markConsolidated(["/l/a.txt"], "/l/batch1.txt");
    expect(ledger.pendingControlLogs().map((c) => c.smsn)).toEqual(["bb".repeat(32)]);
    ledger.recordUpload({ file: "/l/batch1.txt", target: "sftp://upload", remotePath: "/in/batch1.txt" });
    expect(ledger.uploads({ file: "/l/batch1.txt" })).toMatchObject([{ target: "sftp://upload", remotePath: "/in/batch1.txt" }]);
    ledger.close();
  });
});

/** Begins attempts for `dsns` in another process, then leaves it running or kills it. */
async function attemptsInChild(path: string, dsns: string[], fate: "kill" | "live") {
  const script = `
    import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
    const ledger = openLedger(${JSON.stringify(path)});
    for (const [i, dsn] of ${JSON.stringify(dsns)}.entries()) ledger.beginAttempt({ port: "/dev/ttyUSB" + i, dsn, smsn: String(i).repeat(64), apid: "pd25", stage: "test" });
    process.stdout.write("begun\\n");
    ${fate === "kill" ? 'process.kill(process.pid, "SIGKILL");' : "setInterval(() => {}, 1000);"}
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", cwd: REPO });
  const reader = child.stdout.getReader();
  const first = await reader.read();
  if (first.done) throw new Error(await new Response(child.stderr).text());
  expect(new TextDecoder().decode(first.value)).toBe("begun\n");
  if (fate === "kill") await child.exited;
  return child;
}

describe("attempts cut off by a crash", () => {
  test("only attempts of a process that is gone are orphaned; this process's and live ones are not", async () => {
    const path = join(tempDir(), "swtool.db");
    const live = await attemptsInChild(path, ["LIVE1"], "live");
    await attemptsInChild(path, ["DEAD1", "DEAD2"], "kill");
    const ledger = openLedger(path);
    ledger.beginAttempt({ ...base, dsn: "MINE1" });
    expect(ledger.orphanedAttempts().map((a) => a.dsn)).toEqual(["DEAD1", "DEAD2"]);
    expect(ledger.list({ status: "in-progress" }).map((a) => [a.dsn, a.pid === process.pid])).toEqual([
      ["LIVE1", false],
      ["DEAD1", false],
      ["DEAD2", false],
      ["MINE1", true],
    ]);
    live.kill("SIGKILL");
    await live.exited;
    expect(ledger.orphanedAttempts().map((a) => a.dsn)).toEqual(["LIVE1", "DEAD1", "DEAD2"]);
    ledger.close();
  });

  test("recovery: an orphan whose control log was written is provisioned, the others failed at 'interrupted'", async () => {
    const dir = tempDir();
    const path = join(dir, "swtool.db");
    const entry = await makeEntry(makeTestLine());
    // DSN A reached its control log before the crash; B did not.
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      const ledger = openLedger(${JSON.stringify(path)});
      ledger.beginAttempt({ port: "p1", dsn: "A", smsn: ${JSON.stringify(entry.serialNumber)}, apid: "pd25", stage: "test" });
      ledger.beginAttempt({ port: "p2", dsn: "B", smsn: ${JSON.stringify("ee".repeat(32))}, apid: "pd25", stage: "test" });
      process.kill(process.pid, "SIGKILL");
    `;
    await Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "ignore", cwd: REPO }).exited;
    const log = writeControlLogSync(dir, [entry]);
    const ledger = openLedger(path);
    const recovered = recoverOrphanedAttempts(ledger, dir);
    expect(recovered.map((r) => [r.attempt.dsn, r.result, r.controlLog])).toEqual([
      ["A", "provisioned", log],
      ["B", "failed", undefined],
    ]);
    expect(ledger.list().map((a) => [a.dsn, a.result, a.failedStep ?? null, a.controlLog ?? null])).toEqual([
      ["A", "provisioned", null, log],
      ["B", "failed", "interrupted", null],
    ]);
    expect(ledger.isProvisioned({ dsn: "A" })?.controlLog).toBe(log);
    expect(ledger.controlLogKnown(log)).toBe(true);
    expect(recoverOrphanedAttempts(ledger, dir)).toEqual([]);
    ledger.close();
  });

  test("a control log already recorded for another attempt does not vouch for an orphan", async () => {
    const dir = tempDir();
    const path = join(dir, "swtool.db");
    const entry = await makeEntry(makeTestLine());
    const log = writeControlLogSync(dir, [entry]);
    const first = openLedger(path);
    first.recordControlLog(log, entry.serialNumber);
    first.close();
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      openLedger(${JSON.stringify(path)}).beginAttempt({ port: "p1", dsn: "A", smsn: ${JSON.stringify(entry.serialNumber)}, apid: "pd25", stage: "test" });
      process.kill(process.pid, "SIGKILL");
    `;
    await Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "ignore", cwd: REPO }).exited;
    const ledger = openLedger(path);
    expect(recoverOrphanedAttempts(ledger, dir).map((r) => r.result)).toEqual(["failed"]);
    ledger.close();
  });
});

describe("DSN sources", () => {
  test("template formatting and checks", () => {
    expect(formatTemplate("SN{seq:7}", 42)).toBe("SN0000042");
    expect(formatTemplate("X{seq}", 42)).toBe("X42");
    const ledger = openLedger(join(tempDir(), "swtool.db"));
    expect(() => dsnTemplate("SN", 1, ledger)).toThrow(/exactly once/);
    expect(() => dsnTemplate("SN{seq:20}", 1, ledger)).toThrow(/at most 16/);
    const src = dsnTemplate("SN{seq:3}", 5, ledger);
    expect([src.next(), src.next()]).toEqual(["SN005", "SN006"]);
    // A higher --dsn-start jumps ahead; a lower one never goes back.
    expect(dsnTemplate("SN{seq:3}", 100, ledger).next()).toBe("SN100");
    expect(dsnTemplate("SN{seq:3}", 1, ledger).next()).toBe("SN101");
    ledger.close();
  });

  test("a DSN file is used in order, skipping provisioned DSNs; bad lines are named", () => {
    const dir = tempDir();
    const ledger = openLedger(join(dir, "swtool.db"));
    ledger.recordAttempt({ ...base, dsn: "B2", result: "provisioned" });
    writeFileSync(join(dir, "dsns.txt"), "# batch 7\nA1\nB2\n\nC3\n");
    const src = dsnFile(join(dir, "dsns.txt"), ledger);
    expect([src.next(), src.next(), src.next()]).toEqual(["A1", "C3", undefined]);
    expect(src.exhausted).toBe(true);
    writeFileSync(join(dir, "bad.txt"), "A1\nTHIS-DSN-IS-FAR-TOO-LONG\n");
    expect(() => dsnFile(join(dir, "bad.txt"))).toThrow(/bad\.txt:2: DSN/);
    writeFileSync(join(dir, "dup.txt"), "A1\nA1\n");
    expect(() => dsnFile(join(dir, "dup.txt"))).toThrow(/appears twice/);
    const one = fixedDsn("SN9");
    expect([one.next(), one.next(), one.exhausted]).toEqual(["SN9", undefined, true]);
    ledger.close();
  });

  test("crash and restart: a number taken by a killed process is never handed out again", async () => {
    const path = join(tempDir(), "swtool.db");
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      import { dsnTemplate } from ${JSON.stringify(join(REPO, "src/device/dsn.ts"))};
      const src = dsnTemplate("SN{seq:7}", 1, openLedger(${JSON.stringify(path)}));
      const taken = [src.next(), src.next(), src.next()];
      process.stdout.write(taken.join(",") + "\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const crashed = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", cwd: REPO });
    const [out, code] = await Promise.all([new Response(crashed.stdout).text(), crashed.exited]);
    expect(code).not.toBe(0);
    expect(out.trim()).toBe("SN0000001,SN0000002,SN0000003");
    const ledger = openLedger(path);
    expect(dsnTemplate("SN{seq:7}", 1, ledger).next()).toBe("SN0000004");
    ledger.close();
  });
});
