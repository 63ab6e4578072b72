// The line's ledger: one SQLite file (bun:sqlite, WAL, synchronous FULL) beside the control
// logs, default `swtool.db`. It records every provisioning attempt, refuses a DSN or SMSN
// that was already provisioned, hands out DSN template numbers that are never repeated (the
// counter is committed before a number is used, so a crash skips a number rather than
// reusing it), counts signatures per DAK, and keeps the bookkeeping of control logs through
// consolidation and upload for the control-log commands.
//
// API (openLedger(path) returns a Ledger):
//   beginAttempt / finishAttempt / recordAttempt   an attempt row per device try
//   orphanedAttempts()                              in-progress rows whose process is gone
//   isProvisioned({ dsn, smsn })                    the provisioned attempt, if any
//   nextSequence(template, start)                   DSN template counter
//   addSignatures(dak, n) / signatureCount(dak)     DAK usage
//   list({ since, status, limit })                  attempts, oldest first
//   recordControlLog(path, smsn)                    a per-device control log was written
//   controlLogKnown(path)                           whether it is recorded
//   pendingControlLogs()                            logs not yet consolidated
//   markConsolidated(paths, batchPath)              logs went into a consolidated file
//   logConsolidatedInto(smsn, path)                 consolidated file holding a device log
//   markLogsConsolidated(logs, batchPath)           consolidate's record of what went where
//   devicesIn(batchPath)                            SMSNs in a consolidated file
//   recordUpload({ file, target, remotePath })      a file was uploaded (SFTP)
//   uploads({ file })                               upload history
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";
import { LEDGER_BUSY_TIMEOUT_MS, ledgerError } from "./errors.ts";

export const DEFAULT_LEDGER_NAME = "swtool.db";
export const ATTEMPT_RESULTS = ["in-progress", "provisioned", "failed"] as const;
export type AttemptResult = (typeof ATTEMPT_RESULTS)[number];

export interface AttemptStart {
  port: string;
  dsn: string;
  /** 64 hex characters, as computed on the PC. */
  smsn: string;
  apid: string;
  stage: string;
  hsmSerial?: string;
  dak?: string;
  time?: Date;
}

export interface AttemptOutcome {
  result: "provisioned" | "failed";
  failedStep?: string;
  error?: string;
  /** The device's last lines for the failed command. */
  deviceAnswer?: string;
  errorCode?: number;
  controlLog?: string;
  time?: Date;
}

export interface AttemptRecord extends AttemptStart, Omit<AttemptOutcome, "result" | "time"> {
  id: number;
  startedAt: string;
  finishedAt?: string;
  result: AttemptResult;
  /** The machine and process that ran the attempt (absent in ledgers from before they were kept). */
  host?: string;
  pid?: number;
}

export interface ControlLogRecord {
  path: string;
  smsn: string;
  createdAt: string;
  consolidatedInto?: string;
}

export interface UploadRecord {
  id: number;
  file: string;
  target: string;
  remotePath?: string;
  uploadedAt: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS attempts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  port TEXT NOT NULL,
  dsn TEXT NOT NULL,
  smsn TEXT NOT NULL,
  apid TEXT NOT NULL,
  stage TEXT NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('in-progress', 'provisioned', 'failed')),
  failed_step TEXT,
  error TEXT,
  device_answer TEXT,
  error_code INTEGER,
  control_log TEXT,
  hsm_serial TEXT,
  dak TEXT
);
CREATE INDEX IF NOT EXISTS attempts_dsn ON attempts (dsn, result);
CREATE INDEX IF NOT EXISTS attempts_smsn ON attempts (smsn, result);
CREATE INDEX IF NOT EXISTS attempts_started ON attempts (started_at);
CREATE TABLE IF NOT EXISTS sequences (template TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dak_signatures (dak TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS control_logs (
  path TEXT PRIMARY KEY,
  smsn TEXT NOT NULL,
  created_at TEXT NOT NULL,
  consolidated_into TEXT
);
CREATE INDEX IF NOT EXISTS control_logs_smsn ON control_logs (smsn);
CREATE INDEX IF NOT EXISTS control_logs_batch ON control_logs (consolidated_into);
CREATE TABLE IF NOT EXISTS uploads (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  file TEXT NOT NULL,
  target TEXT NOT NULL,
  remote_path TEXT,
  uploaded_at TEXT NOT NULL
);
`;

type Row = Record<string, string | number | null>;

function toAttempt(row: Row): AttemptRecord {
  const r: AttemptRecord = {
    id: row.id as number,
    startedAt: row.started_at as string,
    port: row.port as string,
    dsn: row.dsn as string,
    smsn: row.smsn as string,
    apid: row.apid as string,
    stage: row.stage as string,
    result: row.result as AttemptResult,
  };
  const optional: [keyof AttemptRecord, string][] = [
    ["finishedAt", "finished_at"],
    ["failedStep", "failed_step"],
    ["error", "error"],
    ["deviceAnswer", "device_answer"],
    ["errorCode", "error_code"],
    ["controlLog", "control_log"],
    ["hsmSerial", "hsm_serial"],
    ["dak", "dak"],
    ["host", "host"],
    ["pid", "pid"],
  ];
  for (const [key, column] of optional) if (row[column] !== null && row[column] !== undefined) (r as unknown as Row)[key] = row[column]!;
  return r;
}

export class Ledger {
  private readonly db: Database;

  constructor(readonly path: string) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path, { create: true, strict: true });
      this.db.exec(`PRAGMA busy_timeout = ${LEDGER_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;`);
      // A damaged file must stop every command, not list what it still can (SQLite only
      // notices damage on the pages a query touches).
      const check = (this.db.query("PRAGMA quick_check").all() as { quick_check: string }[]).map((r) => r.quick_check);
      if (check.join() !== "ok") throw Object.assign(new Error(`integrity check: ${check.slice(0, 3).join("; ")}`), { code: "SQLITE_CORRUPT" });
      this.db.exec(SCHEMA);
      this.migrate();
    } catch (e) {
      const known = ledgerError(e, path);
      if (known) throw known;
      throw new SwtoolError(`cannot open the ledger ${path}: ${(e as Error).message}`, {
        advice: "check the path and its permissions (--ledger FILE), and that it is a swtool ledger",
        cause: e,
      });
    }
  }

  /** Columns added after the first release, for ledgers made before them. */
  private migrate(): void {
    const columns = new Set((this.db.query("PRAGMA table_info(attempts)").all() as { name: string }[]).map((c) => c.name));
    for (const [name, type] of [["host", "TEXT"], ["pid", "INTEGER"]] as const) {
      if (!columns.has(name)) this.db.run(`ALTER TABLE attempts ADD COLUMN ${name} ${type}`);
    }
  }

  beginAttempt(a: AttemptStart): number {
    const row = this.db
      .query("INSERT INTO attempts (started_at, port, dsn, smsn, apid, stage, result, hsm_serial, dak, host, pid) VALUES (?, ?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?) RETURNING id")
      .get((a.time ?? new Date()).toISOString(), a.port, a.dsn, a.smsn, a.apid, a.stage, a.hsmSerial ?? null, a.dak ?? null, hostname(), process.pid) as { id: number };
    return row.id;
  }

  /**
   * Attempts left `in-progress` by a process that no longer runs (a crash, a kill, a power
   * cut): started on this machine by a process id that is gone. Attempts of live processes,
   * of other machines sharing the file, and of this process are not touched.
   */
  orphanedAttempts(): AttemptRecord[] {
    const rows = this.db.query("SELECT * FROM attempts WHERE result = 'in-progress' AND host = ? AND pid IS NOT NULL AND pid != ? ORDER BY id").all(hostname(), process.pid) as Row[];
    return rows.map(toAttempt).filter((a) => !processAlive(a.pid!));
  }

  finishAttempt(id: number, o: AttemptOutcome): void {
    this.db
      .query("UPDATE attempts SET finished_at = ?, result = ?, failed_step = ?, error = ?, device_answer = ?, error_code = ?, control_log = ? WHERE id = ?")
      .run((o.time ?? new Date()).toISOString(), o.result, o.failedStep ?? null, o.error ?? null, o.deviceAnswer ?? null, o.errorCode ?? null, o.controlLog ?? null, id);
  }

  /** A whole attempt in one call (a device refused before it was touched, imports). */
  recordAttempt(a: AttemptStart & AttemptOutcome): number {
    const id = this.beginAttempt(a);
    this.finishAttempt(id, a);
    return id;
  }

  /** The provisioned attempt for this DSN or SMSN, if there is one. */
  isProvisioned(key: { dsn?: string; smsn?: string }): AttemptRecord | undefined {
    const row = this.db
      .query("SELECT * FROM attempts WHERE result = 'provisioned' AND (dsn = ? OR smsn = ?) ORDER BY id DESC LIMIT 1")
      .get(key.dsn ?? null, key.smsn?.toLowerCase() ?? null) as Row | null;
    return row ? toAttempt(row) : undefined;
  }

  /**
   * The next number for a DSN template, starting at `start` the first time (or when `start`
   * is beyond the counter). Committed before it is returned, so it is never handed out twice.
   */
  nextSequence(template: string, start = 1): number {
    return this.db.transaction(() => {
      const row = this.db.query("SELECT next FROM sequences WHERE template = ?").get(template) as { next: number } | null;
      const value = Math.max(row?.next ?? start, start);
      this.db.query("INSERT INTO sequences (template, next) VALUES (?, ?) ON CONFLICT (template) DO UPDATE SET next = excluded.next").run(template, value + 1);
      return value;
    }).immediate();
  }

  /** Adds to a DAK's signature count and returns the new total. */
  addSignatures(dak: string, count = 1): number {
    const row = this.db
      .query("INSERT INTO dak_signatures (dak, count) VALUES (?, ?) ON CONFLICT (dak) DO UPDATE SET count = count + excluded.count RETURNING count")
      .get(dak, count) as { count: number };
    return row.count;
  }

  signatureCount(dak: string): number {
    return (this.db.query("SELECT count FROM dak_signatures WHERE dak = ?").get(dak) as { count: number } | null)?.count ?? 0;
  }

  list(filter: { since?: Date | string; status?: AttemptResult; limit?: number } = {}): AttemptRecord[] {
    if (filter.status && !ATTEMPT_RESULTS.includes(filter.status)) {
      throw new SwtoolError(`unknown status ${JSON.stringify(filter.status)}`, { advice: `use ${ATTEMPT_RESULTS.join(", ")}` });
    }
    const since = filter.since === undefined ? null : typeof filter.since === "string" ? filter.since : filter.since.toISOString();
    const rows = this.db
      .query("SELECT * FROM attempts WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR result = ?2) ORDER BY id LIMIT ?3")
      .all(since, filter.status ?? null, filter.limit ?? -1) as Row[];
    return rows.map(toAttempt);
  }

  recordControlLog(path: string, smsn: string, time = new Date()): void {
    this.db.query("INSERT OR IGNORE INTO control_logs (path, smsn, created_at) VALUES (?, ?, ?)").run(path, smsn.toLowerCase(), time.toISOString());
  }

  /** Whether a control log at this path is recorded. */
  controlLogKnown(path: string): boolean {
    return this.db.query("SELECT 1 FROM control_logs WHERE path = ?").get(path) !== null;
  }

  pendingControlLogs(): ControlLogRecord[] {
    return (this.db.query("SELECT * FROM control_logs WHERE consolidated_into IS NULL ORDER BY created_at, path").all() as Row[]).map((r) => ({
      path: r.path as string,
      smsn: r.smsn as string,
      createdAt: r.created_at as string,
    }));
  }

  /** Runs `work` in one write transaction (taken at once, waiting for another writer's lock). */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  markConsolidated(paths: readonly string[], batchPath: string): void {
    const update = this.db.query("UPDATE control_logs SET consolidated_into = ? WHERE path = ?");
    this.db.transaction(() => {
      for (const p of paths) update.run(batchPath, p);
    })();
  }

  // Consolidate's bookkeeping (issue 6). A device log is matched by its SMSN and file name, so
  // the same file reached through another directory spelling is still the same log.

  private logRows(smsn: string, path: string): { path: string; consolidated_into: string | null }[] {
    const name = path.split(/[\\/]/).pop();
    return (this.db.query("SELECT path, consolidated_into FROM control_logs WHERE smsn = ?").all(smsn.toLowerCase()) as { path: string; consolidated_into: string | null }[]).filter(
      (r) => r.path.split(/[\\/]/).pop() === name,
    );
  }

  /** The consolidated file that already holds this device log, if any. */
  logConsolidatedInto(smsn: string, path: string): string | undefined {
    return this.logRows(smsn, path).find((r) => r.consolidated_into !== null)?.consolidated_into ?? undefined;
  }

  /** Records that these device logs went into `batchPath` (recording logs the ledger did not know), in one transaction. */
  markLogsConsolidated(logs: readonly { smsn: string; path: string }[], batchPath: string, time = new Date()): void {
    const insert = this.db.query("INSERT OR IGNORE INTO control_logs (path, smsn, created_at) VALUES (?, ?, ?)");
    const update = this.db.query("UPDATE control_logs SET consolidated_into = ? WHERE path = ?");
    this.db.transaction(() => {
      for (const log of logs) {
        const rows = this.logRows(log.smsn, log.path);
        if (rows.length === 0) insert.run(log.path, log.smsn.toLowerCase(), time.toISOString());
        for (const p of rows.length ? rows.map((r) => r.path) : [log.path]) update.run(batchPath, p);
      }
    })();
  }

  /** SMSNs of the device logs consolidated into `batchPath`. */
  devicesIn(batchPath: string): string[] {
    return (this.db.query("SELECT DISTINCT smsn FROM control_logs WHERE consolidated_into = ? ORDER BY smsn").all(batchPath) as { smsn: string }[]).map((r) => r.smsn);
  }

  recordUpload(u: { file: string; target: string; remotePath?: string; time?: Date }): number {
    const row = this.db
      .query("INSERT INTO uploads (file, target, remote_path, uploaded_at) VALUES (?, ?, ?, ?) RETURNING id")
      .get(u.file, u.target, u.remotePath ?? null, (u.time ?? new Date()).toISOString()) as { id: number };
    return row.id;
  }

  uploads(filter: { file?: string } = {}): UploadRecord[] {
    return (this.db.query("SELECT * FROM uploads WHERE (?1 IS NULL OR file = ?1) ORDER BY id").all(filter.file ?? null) as Row[]).map((r) => {
      const u: UploadRecord = { id: r.id as number, file: r.file as string, target: r.target as string, uploadedAt: r.uploaded_at as string };
      if (r.remote_path !== null) u.remotePath = r.remote_path as string;
      return u;
    });
  }

  close(): void {
    this.db.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, under another user.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function openLedger(path: string): Ledger {
  return withLedgerErrors(new Ledger(path));
}

/** Every method's SQLite failure (locked, damaged, full) becomes the operator's LedgerError. */
function withLedgerErrors(ledger: Ledger): Ledger {
  return new Proxy(ledger, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        try {
          return value.apply(target, args);
        } catch (e) {
          throw ledgerError(e, target.path) ?? e;
        }
      };
    },
  });
}
