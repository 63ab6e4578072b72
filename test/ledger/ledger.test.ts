// The ledger: attempts, refusal lookups, the DSN template counter across a crash (a process
// killed with SIGKILL right after taking a number), DAK signature counts, control-log records.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { dsnFile, dsnTemplate, fixedDsn, formatTemplate } from "../../src/device/dsn.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { importLedger } from "../../src/ledger/import.ts";
import { recoverOrphanedAttempts } from "../../src/device/recover.ts";
import { writeControlLogSync } from "../../src/controllog/writer.ts";
import { makeEntry, makeTestLine } from "../controllog/fixtures.ts";
import { REPO } from "../helpers/vectors.ts";
import { tempDir } from "../device/station.ts";
import { copyFileSync, writeFileSync } from "node:fs";
import { Database } from "bun:sqlite";

const base = { port: "/dev/ttyUSB0", smsn: "ab".repeat(32), apid: "pd25", stage: "test" };

describe("attempts", () => {
  test("begin, finish, list by status and time, refusal lookup by DSN or SMSN", async () => {
    const ledger = await openLedger(join(tempDir(), "swtool.db"));
    const t0 = new Date("2024-05-01T08:00:00Z");
    const a = (await ledger.beginAttempt({ ...base, dsn: "SN1", time: t0 }));
    await ledger.finishAttempt(a, { result: "failed", failedStep: "store", error: "store: ERROR -31", errorCode: -31, deviceAnswer: "{CERT ERROR -31}" });
    const b = (await ledger.beginAttempt({ ...base, dsn: "SN2", smsn: "cd".repeat(32), time: new Date("2024-05-02T08:00:00Z"), hsmSerial: "123", dak: "TEST/ed25519/01" }));
    await ledger.finishAttempt(b, { result: "provisioned", controlLog: "/logs/C_CONTROL_LOG_1.txt" });
    await ledger.beginAttempt({ ...base, dsn: "SN3", time: new Date("2024-05-03T08:00:00Z") });
    expect((await ledger.list()).map((r) => r.result)).toEqual(["failed", "provisioned", "in-progress"]);
    expect((await ledger.list({ status: "failed" }))[0]).toMatchObject({ dsn: "SN1", failedStep: "store", errorCode: -31, deviceAnswer: "{CERT ERROR -31}" });
    expect((await ledger.list({ since: "2024-05-02T00:00:00Z" })).map((r) => r.dsn)).toEqual(["SN2", "SN3"]);
    expect((await ledger.isProvisioned({ dsn: "SN2" }))).toMatchObject({ id: b, hsmSerial: "123", controlLog: "/logs/C_CONTROL_LOG_1.txt" });
    expect((await ledger.isProvisioned({ smsn: "CD".repeat(32) }))?.id).toBe(b);
    expect((await ledger.isProvisioned({ dsn: "SN1" }))).toBeUndefined();
    await expect(ledger.list({ status: "done" as never })).rejects.toThrow(/unknown status/);
    await ledger.close();
  });

  test("DAK signature counts add up", async () => {
    const ledger = await openLedger(join(tempDir(), "swtool.db"));
    expect((await ledger.signatureCount("D"))).toBe(0);
    expect((await ledger.addSignatures("D", 2))).toBe(2);
    expect((await ledger.addSignatures("D"))).toBe(3);
    await ledger.close();
  });

  test("control logs through consolidation and upload", async () => {
    const ledger = await openLedger(join(tempDir(), "swtool.db"));
    await ledger.recordControlLog("/l/a.txt", "AA".repeat(32));
    await ledger.recordControlLog("/l/b.txt", "bb".repeat(32));
    expect((await ledger.pendingControlLogs()).map((c) => c.path)).toEqual(["/l/a.txt", "/l/b.txt"]);
    await ledger.markConsolidated(["/l/a.txt"], "/l/batch1.txt");
    expect((await ledger.pendingControlLogs()).map((c) => c.smsn)).toEqual(["bb".repeat(32)]);
    await ledger.recordUpload({ file: "/l/batch1.txt", target: "sftp://upload", remotePath: "/in/batch1.txt" });
    expect((await ledger.uploads({ file: "/l/batch1.txt" }))).toMatchObject([{ target: "sftp://upload", remotePath: "/in/batch1.txt" }]);
    await ledger.close();
  });
});

/** Begins attempts for `dsns` in another process, then leaves it running or kills it. */
async function attemptsInChild(path: string, dsns: string[], fate: "kill" | "live") {
  const script = `
    import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
    const ledger = await openLedger(${JSON.stringify(path)});
    for (const [i, dsn] of ${JSON.stringify(dsns)}.entries()) (await ledger.beginAttempt({ port: "/dev/ttyUSB" + i, dsn, smsn: Bun.hash(dsn).toString(16).padStart(64, "0"), apid: "pd25", stage: "test" }));
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
    const ledger = await openLedger(path);
    await ledger.beginAttempt({ ...base, dsn: "MINE1" });
    expect((await ledger.orphanedAttempts()).map((a) => a.dsn)).toEqual(["DEAD1", "DEAD2"]);
    expect((await ledger.list({ status: "in-progress" })).map((a) => [a.dsn, a.pid === process.pid])).toEqual([
      ["LIVE1", false],
      ["DEAD1", false],
      ["DEAD2", false],
      ["MINE1", true],
    ]);
    live.kill("SIGKILL");
    await live.exited;
    expect((await ledger.orphanedAttempts()).map((a) => a.dsn)).toEqual(["LIVE1", "DEAD1", "DEAD2"]);
    await ledger.close();
  });

  test("recovery: an orphan whose control log was written is provisioned, the others failed at 'interrupted'", async () => {
    const dir = tempDir();
    const path = join(dir, "swtool.db");
    const entry = await makeEntry(makeTestLine());
    // DSN A reached its control log before the crash; B did not.
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      const ledger = await openLedger(${JSON.stringify(path)});
      await ledger.beginAttempt({ port: "p1", dsn: "A", smsn: ${JSON.stringify(entry.serialNumber)}, apid: "pd25", stage: "test" });
      await ledger.beginAttempt({ port: "p2", dsn: "B", smsn: ${JSON.stringify("ee".repeat(32))}, apid: "pd25", stage: "test" });
      process.kill(process.pid, "SIGKILL");
    `;
    await Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "ignore", cwd: REPO }).exited;
    const log = writeControlLogSync(dir, [entry]);
    const ledger = await openLedger(path);
    const recovered = (await recoverOrphanedAttempts(ledger, dir));
    expect(recovered.map((r) => [r.attempt.dsn, r.result, r.controlLog])).toEqual([
      ["A", "provisioned", log],
      ["B", "failed", undefined],
    ]);
    expect((await ledger.list()).map((a) => [a.dsn, a.result, a.failedStep ?? null, a.controlLog ?? null])).toEqual([
      ["A", "provisioned", null, log],
      ["B", "failed", "interrupted", null],
    ]);
    expect((await ledger.isProvisioned({ dsn: "A" }))?.controlLog).toBe(log);
    expect((await ledger.controlLogKnown(log))).toBe(true);
    expect((await recoverOrphanedAttempts(ledger, dir))).toEqual([]);
    await ledger.close();
  });

  test("a control log already recorded for another attempt does not vouch for an orphan", async () => {
    const dir = tempDir();
    const path = join(dir, "swtool.db");
    const entry = await makeEntry(makeTestLine());
    const log = writeControlLogSync(dir, [entry]);
    const first = await openLedger(path);
    await first.recordControlLog(log, entry.serialNumber);
    await first.close();
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      (await openLedger(${JSON.stringify(path)})).beginAttempt({ port: "p1", dsn: "A", smsn: ${JSON.stringify(entry.serialNumber)}, apid: "pd25", stage: "test" });
      process.kill(process.pid, "SIGKILL");
    `;
    await Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "ignore", cwd: REPO }).exited;
    const ledger = await openLedger(path);
    expect((await recoverOrphanedAttempts(ledger, dir)).map((r) => r.result)).toEqual(["failed"]);
    await ledger.close();
  });
});

describe("DSN sources", () => {
  test("template formatting and checks", async () => {
    expect(formatTemplate("SN{seq:7}", 42)).toBe("SN0000042");
    expect(formatTemplate("X{seq}", 42)).toBe("X42");
    const ledger = await openLedger(join(tempDir(), "swtool.db"));
    expect(() => dsnTemplate("SN", 1, ledger)).toThrow(/exactly once/);
    expect(() => dsnTemplate("SN{seq:20}", 1, ledger)).toThrow(/at most 16/);
    const src = dsnTemplate("SN{seq:3}", 5, ledger);
    expect([(await src.next()), (await src.next())]).toEqual(["SN005", "SN006"]);
    // A higher --dsn-start jumps ahead; a lower one never goes back.
    expect((await dsnTemplate("SN{seq:3}", 100, ledger).next())).toBe("SN100");
    expect((await dsnTemplate("SN{seq:3}", 1, ledger).next())).toBe("SN101");
    await ledger.close();
  });

  test("a DSN file is used in order, skipping provisioned DSNs; bad lines are named", async () => {
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    await ledger.recordAttempt({ ...base, dsn: "B2", result: "provisioned" });
    writeFileSync(join(dir, "dsns.txt"), "# batch 7\nA1\nB2\n\nC3\n");
    const src = dsnFile(join(dir, "dsns.txt"), ledger);
    expect([(await src.next()), (await src.next()), (await src.next())]).toEqual(["A1", "C3", undefined]);
    expect(src.exhausted).toBe(true);
    writeFileSync(join(dir, "bad.txt"), "A1\nTHIS-DSN-IS-FAR-TOO-LONG\n");
    expect(() => dsnFile(join(dir, "bad.txt"))).toThrow(/bad\.txt:2: DSN/);
    writeFileSync(join(dir, "dup.txt"), "A1\nA1\n");
    expect(() => dsnFile(join(dir, "dup.txt"))).toThrow(/appears twice/);
    // Two ports asking at once (the line's workers): each gets its own DSN, none is skipped;
    // and a file written on Windows (CRLF) reads the same.
    writeFileSync(join(dir, "crlf.txt"), "D1\r\nD2\r\nD3\r\n\r\n");
    const both = dsnFile(join(dir, "crlf.txt"), ledger);
    expect(await Promise.all([both.next(), both.next(), both.next(), both.next()])).toEqual(["D1", "D2", "D3", undefined]);
    const one = fixedDsn("SN9");
    expect([(await one.next()), (await one.next()), one.exhausted]).toEqual(["SN9", undefined, true]);
    await ledger.close();
  });

  test("crash and restart: a number taken by a killed process is never handed out again", async () => {
    const path = join(tempDir(), "swtool.db");
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      import { dsnTemplate } from ${JSON.stringify(join(REPO, "src/device/dsn.ts"))};
      const src = dsnTemplate("SN{seq:7}", 1, await openLedger(${JSON.stringify(path)}));
      const taken = [(await src.next()), (await src.next()), (await src.next())];
      process.stdout.write(taken.join(",") + "\\n");
      process.kill(process.pid, "SIGKILL");
    `;
    const crashed = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", cwd: REPO });
    const [out, code] = await Promise.all([new Response(crashed.stdout).text(), crashed.exited]);
    expect(code).not.toBe(0);
    expect(out.trim()).toBe("SN0000001,SN0000002,SN0000003");
    const ledger = await openLedger(path);
    expect((await dsnTemplate("SN{seq:7}", 1, ledger).next())).toBe("SN0000004");
    await ledger.close();
  });
});

describe("ledger import between SQLite ledgers (the PostgreSQL target: postgres.test.ts)", () => {
  test("attempts, counters, signature counts and control logs once; a second import adds nothing; a ledger into itself or a device held differently is refused", async () => {
    const [from, into] = [join(tempDir(), "pc.db"), join(tempDir(), "factory.db")];
    let pc = await openLedger(from, { station: "PC-1" });
    const smsn = (n: number) => String(n).padStart(2, "0").repeat(32);
    for (const n of [1, 2]) {
      const dsn = formatTemplate("SN{seq:7}", await pc.nextSequence("SN{seq:7}"));
      await pc.finishAttempt(await pc.beginAttempt({ port: "p", dsn, smsn: smsn(n), apid: "pd25", stage: "test" }), { result: "provisioned", controlLog: `/l/${dsn}.txt` });
      await pc.recordControlLog(`/l/${dsn}.txt`, smsn(n));
    }
    await pc.addSignatures("DAK-A", 4);
    await pc.markConsolidated(["/l/SN0000001.txt"], "/l/shift.txt");
    const factory = await openLedger(into, { station: "LINE-9" });
    expect(await importLedger(pc, factory)).toEqual({ attempts: 2, alreadyImported: 0, countersRaised: 1, signaturesAdded: 4, controlLogs: 2 });
    const once = await factory.snapshot();
    expect(await importLedger(pc, factory)).toEqual({ attempts: 0, alreadyImported: 2, countersRaised: 0, signaturesAdded: 0, controlLogs: 0 });
    expect(await factory.snapshot()).toEqual(once);
    // A copy of the file that got its own ledger id (a pre-schema-4 swtool.db migrated once here, once there): the same.
    const copy = join(tempDir(), "copy.db");
    await pc.close();
    copyFileSync(from, copy);
    const raw = new Database(copy);
    raw.run("UPDATE ledger_info SET id = 'another-id'");
    raw.close();
    const copied = await openLedger(copy);
    expect(await importLedger(copied, factory)).toEqual({ attempts: 0, alreadyImported: 2, countersRaised: 0, signaturesAdded: 0, controlLogs: 0 });
    await copied.close();
    expect(await factory.snapshot()).toEqual(once);
    pc = await openLedger(from, { station: "PC-1" });
    expect(await dsnTemplate("SN{seq:7}", 1, factory).next()).toBe("SN0000003");
    expect(await factory.devicesIn("/l/shift.txt")).toEqual([smsn(1)]);
    await expect(importLedger(pc, pc)).rejects.toThrow(`ledger import: ${from} and ${from} are the same ledger`);
    const other = await openLedger(join(tempDir(), "pc2.db"), { station: "PC-2" });
    await other.finishAttempt(await other.beginAttempt({ port: "p", dsn: "SN0000001", smsn: smsn(9), apid: "pd25", stage: "test" }), { result: "provisioned" });
    await expect(importLedger(other, factory)).rejects.toThrow(
      `ledger import refused: DSN SN0000001 is provisioned with SMSN ${smsn(1)} in ${into} (attempt 1, PC-1) and provisioned with SMSN ${smsn(9)} in ${other.path} (attempt 1, PC-2)`,
    );
    expect((await factory.list()).length).toBe(2);
    for (const l of [pc, factory, other]) await l.close();
  });
});
