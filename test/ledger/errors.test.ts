// The ledger when things go wrong, through the real CLI: held by another process in BEGIN
// EXCLUSIVE (consolidate waits, or fails with one line and leaves no output and no marks),
// damaged (every command refuses it, `swtool ledger` included), on a full disk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlLogEntry } from "../../src/controllog/format.ts";
import { Database } from "bun:sqlite";
import { openLedger } from "../../src/ledger/ledger.ts";
import { swtool } from "../helpers/cli.ts";
import { smallDisk, type SmallDisk } from "../helpers/disk.ts";
import { makeEntry, makeTestLine, writeLogFile } from "../controllog/fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("ledger-errors");
let entries: ControlLogEntry[];
const disks: SmallDisk[] = [];
beforeAll(async () => {
  const line = makeTestLine();
  entries = [];
  for (let i = 0; i < 3; i++) entries.push(await makeEntry(line));
});
afterAll(() => disks.forEach((d) => d.unmount()));

/** A directory of three control logs, with the ledger the line keeps beside them. */
async function shift(dir = tempDir()): Promise<{ logs: string; ledger: string }> {
  const ledger = join(dir, "swtool.db");
  const l = await openLedger(ledger);
  for (const [i, e] of entries.entries()) await l.recordControlLog(writeLogFile(dir, `C_CONTROL_LOG_2026112100000${i}.txt`, [e]), e.serialNumber);
  await l.close();
  return { logs: dir, ledger };
}

/** Another process holding the ledger in BEGIN EXCLUSIVE for `ms`, as a line writing it does. */
async function holdLedger(path: string, ms: number): Promise<{ done: Promise<number> }> {
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(${JSON.stringify(path)});
    db.exec("PRAGMA busy_timeout = 5000; BEGIN EXCLUSIVE");
    db.exec("INSERT INTO sequences (template, next) VALUES ('held', 1) ON CONFLICT (template) DO UPDATE SET next = next + 1");
    console.log("held");
    await Bun.sleep(${ms});
    db.exec("COMMIT");`;
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toBe("held\n");
  return { done: proc.exited };
}

const consolidated = async (ledger: string) => {
  const l = await openLedger(ledger);
  try {
    return await Promise.all(entries.map(async (e, i) => (await l.logConsolidatedInto(e.serialNumber, `C_CONTROL_LOG_2026112100000${i}.txt`)) ?? null));
  } finally {
    await l.close();
  }
};

describe("a ledger held by another process (BEGIN EXCLUSIVE)", () => {
  test("held past the busy timeout: consolidate fails in one line, leaves no output and marks nothing", async () => {
    const { logs, ledger } = await shift();
    const out = join(tempDir(), "batch.txt");
    const holder = await holdLedger(ledger, 9_000);
    // The file is published inside the ledger's transaction: it never appears while the lock is held.
    let appeared = false;
    const watch = setInterval(() => (appeared ||= existsSync(out)), 20);
    const r = await swtool(["consolidate", logs, "--ledger", ledger, "--new-only", "-o", out]);
    clearInterval(watch);
    expect(appeared).toBe(false);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: the ledger ${ledger} is locked by another process (still locked after 5 s)\n  fix: another swtool (a line, a consolidate) is writing it: run this again when that finishes\n`,
    });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(join(out, "..")).filter((n) => n.startsWith(".swtool-"))).toEqual([]);
    expect(await holder.done).toBe(0);
    expect(await consolidated(ledger)).toEqual([null, null, null]);
    // Once the lock is gone the same command succeeds and marks every device.
    const again = await swtool(["consolidate", logs, "--ledger", ledger, "--new-only", "-o", out]);
    expect(again.code).toBe(0);
    expect(await consolidated(ledger)).toEqual([out, out, out]);
  }, 30_000);

  test("held briefly: consolidate waits for it and succeeds", async () => {
    const { logs, ledger } = await shift();
    const out = join(tempDir(), "batch.txt");
    const holder = await holdLedger(ledger, 1_000);
    const r = await swtool(["consolidate", logs, "--ledger", ledger, "-o", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${out}\n`);
    expect(await holder.done).toBe(0);
    expect(await consolidated(ledger)).toEqual([out, out, out]);
  }, 30_000);
});

describe("a damaged ledger", () => {
  /** A ledger with rows whose SMSN index page is overwritten: plain queries still list rows. */
  let indexPage = 0;
  async function damaged(): Promise<string> {
    const path = join(tempDir(), "swtool.db");
    const l = await openLedger(path);
    for (let i = 0; i < 50; i++) await l.recordAttempt({ port: "p", dsn: `D${i}`, smsn: i.toString(16).padStart(64, "0"), apid: "pd25", stage: "test", result: "provisioned" });
    await l.close();
    const db = new Database(path);
    indexPage = (db.query("SELECT rootpage FROM sqlite_master WHERE name = 'attempts_smsn'").get() as { rootpage: number }).rootpage;
    const pageSize = (db.query("PRAGMA page_size").get() as { page_size: number }).page_size;
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    const fd = openSync(path, "r+");
    // Cell pointers of that index page: every cell now points nowhere.
    writeSync(fd, Buffer.alloc(100, 0x41), 0, 100, (indexPage - 1) * pageSize + 8);
    closeSync(fd);
    return path;
  }
  const MESSAGE = (path: string) =>
    `error: the ledger ${path} is damaged (integrity check: Tree ${indexPage} page ${indexPage} cell 0: invalid page number 1094795585)\n` +
    "  fix: stop the line, keep a copy of the file, and restore the ledger from its last backup (the control logs still record every provisioned device)\n";

  test("swtool ledger refuses it instead of listing what it still can", async () => {
    const path = await damaged();
    expect(await swtool(["ledger", "--ledger", path])).toEqual({ code: 1, stdout: "", stderr: MESSAGE(path) });
  });

  test("consolidate and import-csv refuse it too", async () => {
    const path = await damaged();
    const { logs } = await shift();
    const out = join(tempDir(), "x.txt");
    expect(await swtool(["consolidate", logs, "--ledger", path, "-o", out])).toEqual({ code: 1, stdout: "", stderr: MESSAGE(path) });
    expect(await swtool(["import-csv", "--from", path, "-o", out])).toEqual({ code: 1, stdout: "", stderr: MESSAGE(path) });
    expect(existsSync(out)).toBe(false);
  });

  test("a file that is not a ledger at all", async () => {
    const path = join(tempDir(), "swtool.db");
    Bun.write(path, "these are not the droids\n".repeat(200));
    await Bun.sleep(10);
    expect(await swtool(["ledger", "--ledger", path])).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: the ledger ${path} is damaged (file is not a database)\n  fix: stop the line, keep a copy of the file, and restore the ledger from its last backup (the control logs still record every provisioned device)\n`,
    });
  });
});

describe("a ledger on a full disk (tmpfs)", () => {
  // 32 KiB free: room for the -shm file SQLite maps when it opens the ledger, none for the marks.
  for (const [what, leave] of [["cannot open it", 0], ["cannot mark", 32 * 1024]] as const) {
    test(`consolidate ${what}: one line, and no consolidated file is left`, async () => {
      const disk = smallDisk(512 * 1024);
      if (!disk) return;
      disks.push(disk);
      const { logs, ledger } = await shift(disk.dir);
      disk.fill(leave);
      const out = join(tempDir(), "batch.txt");
      const r = await swtool(["consolidate", logs, "--ledger", ledger, "-o", out]);
      expect(r).toEqual({ code: 1, stdout: "", stderr: `error: the ledger ${ledger} cannot grow: the disk is full\n  fix: free space on that disk, then run this again\n` });
      expect(readdirSync(join(out, ".."))).toEqual([]);
    });
  }
});
