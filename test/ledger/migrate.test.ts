// Ledger schema versions: a SQLite ledger from before versioning (the first release's tables
// plus host and pid) upgrades in place, keeps every row, and from then on a DSN and an SMSN
// are held by one attempt; a ledger newer than this swtool is refused; `swtool ledger migrate`.
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { LedgerConflictError, openLedger } from "../../src/ledger/ledger.ts";
import { SQLITE_MIGRATIONS } from "../../src/ledger/migrations.ts";
import { SqliteLedger } from "../../src/ledger/sqlite.ts";
import { processStartTime } from "../../src/ledger/process-start.ts";
import { hostname } from "node:os";
import { swtool } from "../helpers/cli.ts";
import { tempDir } from "../device/station.ts";

/** A ledger as swtool wrote it before schema versions: version 1's tables, host and pid added, user_version 0. */
function oldLedger(path: string): void {
  const db = new Database(path, { create: true });
  db.exec(SQLITE_MIGRATIONS[0]!.sql!);
  db.exec("ALTER TABLE attempts ADD COLUMN host TEXT; ALTER TABLE attempts ADD COLUMN pid INTEGER;");
  const insert = db.query("INSERT INTO attempts (started_at, finished_at, port, dsn, smsn, apid, stage, result, control_log, host, pid) VALUES (?, ?, 'p', ?, ?, 'pd25', 'test', ?, ?, 'old-pc', 1)");
  insert.run("2024-05-01T08:00:00.000Z", "2024-05-01T08:01:00.000Z", "SN1", "aa".repeat(32), "provisioned", "/l/C_1.txt");
  // --allow-reprovision let the same DSN be provisioned twice: the later attempt keeps it.
  insert.run("2024-05-01T09:00:00.000Z", "2024-05-01T09:01:00.000Z", "SN1", "aa".repeat(32), "provisioned", "/l/C_2.txt");
  insert.run("2024-05-01T10:00:00.000Z", "2024-05-01T10:01:00.000Z", "SN2", "bb".repeat(32), "failed", null);
  db.exec("INSERT INTO sequences VALUES ('SN{seq:7}', 3); INSERT INTO dak_signatures VALUES ('D', 4);");
  db.close();
}

describe("SQLite ledger migrations", () => {
  test("a ledger from the current release upgrades in place to version 5, every row kept", async () => {
    const path = join(tempDir(), "swtool.db");
    oldLedger(path);
    const ledger = await openLedger(path, { station: "LINE-9" });
    expect(await ledger.schemaVersion()).toEqual({ database: 5, current: 5, before: 0 });
    expect((await ledger.list()).map((r) => [r.dsn, r.result, r.controlLog ?? null, r.host])).toEqual([
      ["SN1", "provisioned", "/l/C_1.txt", "old-pc"],
      ["SN1", "provisioned", "/l/C_2.txt", "old-pc"],
      ["SN2", "failed", null, "old-pc"],
    ]);
    expect((await ledger.holder({ dsn: "SN1" }))?.controlLog).toBe("/l/C_2.txt");
    expect(await ledger.nextSequence("SN{seq:7}", 1)).toBe(3);
    expect(await ledger.signatureCount("D")).toBe(4);
    await expect(ledger.beginAttempt({ port: "p", dsn: "SN1", smsn: "aa".repeat(32), apid: "pd25", stage: "test" })).rejects.toBeInstanceOf(LedgerConflictError);
    const id = await ledger.beginAttempt({ port: "p", dsn: "SN2", smsn: "bb".repeat(32), apid: "pd25", stage: "test" });
    expect((await ledger.list()).find((r) => r.id === id)).toMatchObject({ station: "LINE-9", pid: process.pid, result: "in-progress" });
    await ledger.close();
    // Opening again is a no-op.
    const again = await openLedger(path);
    expect(await again.schemaVersion()).toEqual({ database: 5, current: 5, before: 5 });
    await again.close();
  });

  test("a ledger written by a newer swtool is refused", async () => {
    const path = join(tempDir(), "swtool.db");
    const db = new Database(path, { create: true });
    db.exec("PRAGMA user_version = 99");
    db.close();
    await expect(openLedger(path)).rejects.toThrow(`the ledger ${path} has schema version 99; this swtool knows up to 5`);
  });

  test("swtool ledger migrate upgrades an old ledger and says so; a URL it does not understand is refused, no file made", async () => {
    const dir = tempDir();
    const path = join(dir, "swtool.db");
    oldLedger(path);
    const r = await swtool(["ledger", "migrate", "--ledger", path]);
    expect([r.code, r.stdout.trim()]).toEqual([0, `ledger ${path}: schema version 0 -> 5`]);
    const again = await swtool(["ledger", "migrate", "--ledger", path]);
    expect(again.stdout.trim()).toBe(`ledger ${path}: schema version 5, up to date`);
    const bad = await swtool(["ledger", "--ledger", "postgress://swtool@127.0.0.1/factory"], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("swtool keeps its ledger in a SQLite file or in PostgreSQL, not postgress:");
    expect(await Bun.file(join(dir, "postgress:")).exists()).toBe(false);
  });
});

describe("crash recovery keys on host, station, pid and the process start time", () => {
  test("an in-progress attempt whose pid now belongs to another live process is an orphan", async () => {
    const path = join(tempDir(), "swtool.db");
    const other = Bun.spawn(["sleep", "30"]);
    try {
      const start = processStartTime(other.pid);
      expect(start).toMatch(/^[0-9a-f-]{36}\/\d+$/);
      const id = (station: string, pidStart: string | undefined) => ({ host: hostname(), pid: other.pid, station, ...(pidStart ? { pidStart } : {}) });
      // Written by the process that runs now (same pid, same start): not an orphan.
      const live = new SqliteLedger(path, id(hostname(), start));
      await live.beginAttempt({ port: "p", dsn: "LIVE", smsn: "11".repeat(32), apid: "pd25", stage: "test" });
      // Written by an earlier process that had the same pid (another start time): an orphan.
      const reused = new SqliteLedger(path, id(hostname(), "00000000-0000-0000-0000-000000000000/1"));
      await reused.beginAttempt({ port: "p", dsn: "REUSED", smsn: "22".repeat(32), apid: "pd25", stage: "test" });
      // Another station on this host: its own recovery, not this station's.
      const elsewhere = new SqliteLedger(path, id("LINE-2", "00000000-0000-0000-0000-000000000000/1"));
      await elsewhere.beginAttempt({ port: "p", dsn: "LINE2", smsn: "33".repeat(32), apid: "pd25", stage: "test" });
      const ledger = await openLedger(path);
      expect((await ledger.orphanedAttempts()).map((a) => a.dsn)).toEqual(["REUSED"]);
      for (const l of [live, reused, elsewhere, ledger]) await l.close();
    } finally {
      other.kill();
    }
  });
});
