// The bookkeeping of consolidating up to millions of logs: which SMSNs were seen, with a
// digest of their entry and the file they came from, the files by number, and the text of
// each validated entry to write, in the order read (so the write pass reads one file
// sequentially instead of opening and parsing every log again). The index lives in a
// scratch SQLite database on disk (bun:sqlite), the entries in a spool file beside it (appended
// and read back in 1 MiB blocks: a SQLite table cost seconds per 100,000 entries), neither in
// the JS heap, so consolidate's memory
// is the same for a thousand logs or ten million (issue 6: memory must not grow with the
// number of logs); only SQLite's page cache (32 MiB) is held in memory. The database is a
// private temporary file, deleted by close().
import { Database, type Statement } from "bun:sqlite";
import { closeSync, mkdtempSync, openSync, readSync } from "node:fs";
import { writeAllSync } from "../lib/atomic.ts";
import { ByteBlock } from "../lib/byte-block.ts";
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
/** The entry spool's write buffer and read block. */
const SPOOL_BLOCK = 1 << 20;

const SCRATCH_ADVICE = "point TMPDIR (TEMP on Windows) at a writable directory with room for about as much again as the consolidated file";

export type SeenBefore = { status: "new" } | { status: "duplicate" | "conflict"; source: number };

interface DeviceRow {
  digest: Uint8Array;
  source: number;
}

/** An entry kept for the write pass: its SMSN (hex), APID, label, file and output text. */
export interface KeptEntry {
  smsn: string;
  apid: string;
  label: string;
  path: string;
  text: string;
}

export class SmsnIndex {
  private readonly dir: string;
  private readonly db: Database;
  private readonly insertDevice: Statement;
  private readonly findDevice: Statement<DeviceRow>;
  private readonly spool: number;
  private readonly spooled = new ByteBlock(SPOOL_BLOCK);
  private spoolSize = 0;
  private readonly insertFile: Statement;
  private readonly findFile: Statement<{ path: string }>;
  private writes = 0;
  private closed = false;
  /** Distinct SMSNs recorded. */
  size = 0;
  /** Files recorded. */
  files = 0;

  /** `parent`: where the scratch database goes (default: the system's temporary directory). */
  constructor(private readonly parent = tmpdir()) {
    try {
      this.dir = mkdtempSync(join(parent, "swtool-index-"));
      this.db = new Database(join(this.dir, "index.db"), { create: true, strict: true });
      this.spool = openSync(join(this.dir, "entries.spool"), "w+", 0o600);
    } catch (e) {
      throw new SwtoolError(`cannot create the scratch index under ${parent}: ${(e as Error).message}`, {
        advice: SCRATCH_ADVICE,
        cause: e,
      });
    }
    // A scratch file: no journal, no fsync, nobody else opens it.
    for (const pragma of ["journal_mode = OFF", "synchronous = OFF", "locking_mode = EXCLUSIVE", "temp_store = FILE", `cache_size = -${CACHE_KIB}`]) {
      this.db.run(`PRAGMA ${pragma}`);
    }
    this.db.run("CREATE TABLE devices (smsn BLOB PRIMARY KEY, digest BLOB NOT NULL, source INTEGER NOT NULL) WITHOUT ROWID");
    this.db.run("CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL)");
    this.insertDevice = this.db.prepare("INSERT INTO devices (smsn, digest, source) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    this.findDevice = this.db.prepare<DeviceRow, [Uint8Array]>("SELECT digest, source FROM devices WHERE smsn = ?");
    this.insertFile = this.db.prepare("INSERT INTO files (id, path) VALUES (?, ?)");
    this.findFile = this.db.prepare<{ path: string }, [number]>("SELECT path FROM files WHERE id = ?");
    this.db.run("BEGIN");
  }

  private wrote(): void {
    if (++this.writes % BATCH === 0) {
      this.guard(() => {
        this.db.run("COMMIT");
        this.db.run("BEGIN");
      });
    }
  }

  /** A full temporary disk is one clear line, not a SQLite stack. */
  private guard<T>(run: () => T): T {
    try {
      return run();
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? "");
      if (code === "SQLITE_FULL" || code.startsWith("SQLITE_IOERR")) {
        throw new SwtoolError(`the scratch index under ${this.parent} cannot grow: the disk is full`, { advice: SCRATCH_ADVICE, cause: e });
      }
      throw e;
    }
  }

  /** Records an SMSN's first entry (its digest and file number), or says how a later one relates to it. */
  add(smsn: Uint8Array, digest: Uint8Array, source: number): SeenBefore {
    if (this.guard(() => this.insertDevice.run(smsn, digest, source)).changes === 1) {
      this.size++;
      this.wrote();
      return { status: "new" };
    }
    const first = this.findDevice.get(smsn)!;
    return { status: equal(first.digest, digest) ? "duplicate" : "conflict", source: first.source };
  }

  /** Keeps an entry's output text for the write pass (after `source`'s file was numbered). */
  keep(smsn: string, apid: string, label: string, source: number, text: string): void {
    // A record: a JSON header line (no raw line break in it) with the text's byte length, then the text.
    const record = JSON.stringify([smsn, apid, label, source, Buffer.byteLength(text)]) + "\n" + text;
    if (this.spooled.tryAdd(record)) return;
    this.flushSpool();
    if (!this.spooled.tryAdd(record)) this.writeSpool(Buffer.from(record, "utf8"));
  }

  private flushSpool(): void {
    if (this.spooled.size === 0) return;
    this.writeSpool(this.spooled.bytes());
    this.spooled.clear();
  }

  private writeSpool(data: Uint8Array): void {
    try {
      writeAllSync(this.spool, data, this.spoolSize);
    } catch (e) {
      throw new SwtoolError(`cannot write the scratch spool under ${this.parent}: ${(e as NodeJS.ErrnoException).code === "ENOSPC" ? "the disk is full" : (e as Error).message}`, { advice: SCRATCH_ADVICE, cause: e });
    }
    this.spoolSize += data.length;
  }

  /** The kept entries, in the order kept, one block in memory at a time. */
  *kept(): Generator<KeptEntry> {
    this.flushSpool();
    // One reused buffer: what is left unread moves to its start, the next block is read after it.
    let buffer = Buffer.allocUnsafe(2 * SPOOL_BLOCK);
    let data = buffer.subarray(0, 0);
    let position = 0;
    let at = 0;
    // Appends the next block to what is left unread; false at the end of the spool.
    const more = () => {
      const left = data.length - at;
      if (buffer.length - left < SPOOL_BLOCK) {
        const bigger = Buffer.allocUnsafe(2 * (left + SPOOL_BLOCK));
        data.copy(bigger, 0, at);
        buffer = bigger;
      } else {
        buffer.copyWithin(0, at, data.length);
      }
      at = 0;
      const n = readSync(this.spool, buffer, left, SPOOL_BLOCK, position);
      data = buffer.subarray(0, left + n);
      position += n;
      return n > 0;
    };
    let path = "";
    let pathOf = -1;
    for (;;) {
      let newline = data.indexOf(0x0a, at);
      while (newline === -1) {
        const scanned = data.length - at;
        if (!more()) {
          if (at < data.length) throw new SwtoolError(`the scratch spool under ${this.parent} is cut short`, { advice: SCRATCH_ADVICE });
          return;
        }
        newline = data.indexOf(0x0a, scanned);
      }
      const [smsn, apid, label, source, length] = JSON.parse(data.toString("utf8", at, newline)) as [string, string, string, number, number];
      while (data.length - (newline + 1) < length) {
        const offset = newline - at;
        if (!more()) throw new SwtoolError(`the scratch spool under ${this.parent} is cut short`, { advice: SCRATCH_ADVICE });
        newline = offset;
      }
      const text = data.toString("utf8", newline + 1, newline + 1 + length);
      at = newline + 1 + length;
      // Entries come file by file: one lookup per file.
      if (source !== pathOf) {
        path = this.file(source);
        pathOf = source;
      }
      yield { smsn, apid, label, path, text };
    }
  }

  /** Numbers a file, for `add`'s `source`. */
  addFile(path: string): number {
    const n = this.files++;
    this.guard(() => this.insertFile.run(n, path));
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
    for (const statement of [this.insertDevice, this.findDevice, this.insertFile, this.findFile]) statement.finalize();
    this.db.close();
    closeSync(this.spool);
    // A scratch file left in the temporary directory must not fail the run that used it.
    removeScratchDir(this.dir);
  }
}
