// The bookkeeping of consolidating up to millions of logs: which SMSNs were seen, with a
// digest of their entry and the file they came from, and the files by number. It lives in a
// scratch SQLite database on disk (bun:sqlite), not in the JS heap, so consolidate's memory
// is the same for a thousand logs or ten million (issue 6: memory must not grow with the
// number of logs); only SQLite's page cache (32 MiB) is held in memory. The database is a
// private temporary file, deleted by close().
import { Database, type Statement } from "bun:sqlite";
import { mkdtempSync } from "node:fs";
import { removeScratchDir } from "../lib/scratch-dir.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwtoolError } from "../lib/errors.ts";
import { equal } from "../lib/bytes.ts";

export const DIGEST_LENGTH = 16;
/** Writes per transaction: commits then cost nothing beside the inserts. */
const BATCH = 20_000;
/** SQLite's page cache in KiB (negative cache_size means KiB). */
const CACHE_KIB = 32 * 1024;

export type SeenBefore = { status: "new" } | { status: "duplicate" | "conflict"; source: number };

interface DeviceRow {
  digest: Uint8Array;
  source: number;
}

export class SmsnIndex {
  private readonly dir: string;
  private readonly db: Database;
  private readonly insertDevice: Statement;
  private readonly findDevice: Statement<DeviceRow>;
  private readonly takeDevice: Statement;
  private readonly insertFile: Statement;
  private readonly findFile: Statement<{ path: string }>;
  private writes = 0;
  private closed = false;
  /** Distinct SMSNs recorded. */
  size = 0;
  /** Files recorded. */
  files = 0;

  /** `parent`: where the scratch database goes (default: the system's temporary directory). */
  constructor(parent = tmpdir()) {
    try {
      this.dir = mkdtempSync(join(parent, "swtool-index-"));
      this.db = new Database(join(this.dir, "index.db"), { create: true, strict: true });
    } catch (e) {
      throw new SwtoolError(`cannot create the scratch index under ${parent}: ${(e as Error).message}`, {
        advice: "point TMPDIR (TEMP on Windows) at a writable directory with room for about 100 bytes per log",
        cause: e,
      });
    }
    // A scratch file: no journal, no fsync, nobody else opens it.
    for (const pragma of ["journal_mode = OFF", "synchronous = OFF", "locking_mode = EXCLUSIVE", "temp_store = FILE", `cache_size = -${CACHE_KIB}`]) {
      this.db.run(`PRAGMA ${pragma}`);
    }
    this.db.run("CREATE TABLE devices (smsn BLOB PRIMARY KEY, digest BLOB NOT NULL, source INTEGER NOT NULL, taken INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID");
    this.db.run("CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL)");
    this.insertDevice = this.db.prepare("INSERT INTO devices (smsn, digest, source) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    this.findDevice = this.db.prepare<DeviceRow, [Uint8Array]>("SELECT digest, source FROM devices WHERE smsn = ?");
    this.takeDevice = this.db.prepare("UPDATE devices SET taken = 1 WHERE smsn = ? AND taken = 0");
    this.insertFile = this.db.prepare("INSERT INTO files (id, path) VALUES (?, ?)");
    this.findFile = this.db.prepare<{ path: string }, [number]>("SELECT path FROM files WHERE id = ?");
    this.db.run("BEGIN");
  }

  private wrote(): void {
    if (++this.writes % BATCH === 0) {
      this.db.run("COMMIT");
      this.db.run("BEGIN");
    }
  }

  /** Records an SMSN's first entry (its digest and file number), or says how a later one relates to it. */
  add(smsn: Uint8Array, digest: Uint8Array, source: number): SeenBefore {
    if (this.insertDevice.run(smsn, digest, source).changes === 1) {
      this.size++;
      this.wrote();
      return { status: "new" };
    }
    const first = this.findDevice.get(smsn)!;
    return { status: equal(first.digest, digest) ? "duplicate" : "conflict", source: first.source };
  }

  /** Whether `smsn` is known with exactly this digest. */
  has(smsn: Uint8Array, digest: Uint8Array): boolean {
    const row = this.findDevice.get(smsn);
    return row !== null && equal(row.digest, digest);
  }

  /** For a second pass over the same inputs: true the first time an SMSN is taken. */
  takeOnce(smsn: Uint8Array): boolean {
    const taken = this.takeDevice.run(smsn).changes === 1;
    if (taken) this.wrote();
    return taken;
  }

  /** Numbers a file, for `add`'s `source`. */
  addFile(path: string): number {
    const n = this.files++;
    this.insertFile.run(n, path);
    this.wrote();
    return n;
  }

  /** The path of file number `n`. */
  file(n: number): string {
    const row = this.findFile.get(n);
    if (!row) throw new RangeError(`no file number ${n}`);
    return row.path;
  }

  /** Closes and deletes the scratch database. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Statements first: an open statement would keep the file open (and locked on Windows).
    for (const statement of [this.insertDevice, this.findDevice, this.takeDevice, this.insertFile, this.findFile]) statement.finalize();
    this.db.close();
    // A scratch file left in the temporary directory must not fail the run that used it.
    removeScratchDir(this.dir);
  }
}
