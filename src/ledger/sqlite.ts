// The ledger's SQLite engine (bun:sqlite, WAL, synchronous FULL): one file beside a line PC's
// control logs. Methods are async only to share the Ledger interface with PostgreSQL.
import { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";
import { LEDGER_BUSY_TIMEOUT_MS, ledgerError } from "./errors.ts";
import type { Ledger } from "./types.ts";
import { conflictKey, CURRENT_SCHEMA, SQLITE_MIGRATIONS } from "./migrations.ts";
import { sameProcessAlive } from "./process-start.ts";
import {
  ATTEMPT_RESULTS,
  baseName,
  LedgerConflictError,
  toAttempt,
  toControlLog,
  toUpload,
  type AttemptOutcome,
  type AttemptRecord,
  type AttemptResult,
  type AttemptStart,
  type ControlLogRecord,
  type LedgerIdentity,
  type LedgerSnapshot,
  type Row,
  type StoredAttempt,
  type UploadRecord,
} from "./types.ts";

/** Brings a SQLite ledger to the current schema version; returns the version it had. */
export function migrateSqlite(db: Database, path: string): number {
  const version = (db.query("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version > CURRENT_SCHEMA) {
    throw new SwtoolError(`the ledger ${path} has schema version ${version}; this swtool knows up to ${CURRENT_SCHEMA}`, { advice: "use the newer swtool that wrote it" });
  }
  if (version === CURRENT_SCHEMA) return version;
  db.transaction(() => {
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= version) continue;
      if (m.sql) db.exec(m.sql);
      if (m.addColumns) {
        const columns = new Set((db.query("PRAGMA table_info(attempts)").all() as { name: string }[]).map((c) => c.name));
        for (const [name, type] of m.addColumns) if (!columns.has(name)) db.run(`ALTER TABLE attempts ADD COLUMN ${name} ${type}`);
      }
      if (m.after) db.exec(m.after);
    }
    db.exec(`PRAGMA user_version = ${CURRENT_SCHEMA}`);
  }).immediate();
  return version;
}

export class SqliteLedger implements Ledger {
  readonly engine = "sqlite";
  private readonly db: Database;
  private readonly versionAtOpen: number;

  constructor(
    readonly path: string,
    readonly identity: LedgerIdentity,
  ) {
    try {
      mkdirSync(dirname(path), { recursive: true });
      this.db = new Database(path, { create: true, strict: true });
      this.db.exec(`PRAGMA busy_timeout = ${LEDGER_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;`);
      // A damaged file must stop every command, not list what it still can (SQLite only
      // notices damage on the pages a query touches).
      const check = (this.db.query("PRAGMA quick_check(1)").all() as { quick_check: string }[]).flatMap((r) => r.quick_check.split("\n"));
      const problem = check.find((line) => line !== "ok" && !line.startsWith("***"));
      if (problem) throw Object.assign(new Error(`integrity check: ${problem}`), { code: "SQLITE_CORRUPT" });
      this.versionAtOpen = migrateSqlite(this.db, path);
    } catch (e) {
      if (e instanceof SwtoolError) throw e;
      const known = ledgerError(e, path);
      if (known) throw known;
      throw new SwtoolError(`cannot open the ledger ${path}: ${(e as Error).message}`, {
        advice: "check the path and its permissions (--ledger FILE), and that it is a swtool ledger",
        cause: e,
      });
    }
  }

  async schemaVersion() {
    return { database: (this.db.query("PRAGMA user_version").get() as { user_version: number }).user_version, current: CURRENT_SCHEMA, before: this.versionAtOpen };
  }

  async beginAttempt(a: AttemptStart & { reprovision?: boolean; attemptKey?: string }): Promise<number> {
    const id = this.identity;
    try {
      return this.db.transaction(() => {
        const existing = a.attemptKey ? (this.db.query("SELECT id FROM attempts WHERE attempt_key = ?").get(a.attemptKey) as { id: number } | null) : null;
        if (existing) return existing.id;
        // --allow-reprovision: the earlier provisioned attempt keeps its record but lets go of the DSN.
        if (a.reprovision) this.db.query("UPDATE attempts SET claimed = NULL WHERE claimed = 1 AND result = 'provisioned' AND (dsn = ? OR smsn = ?)").run(a.dsn, a.smsn);
        const row = this.db
          .query(
            "INSERT INTO attempts (started_at, port, dsn, smsn, apid, stage, result, hsm_serial, dak, host, pid, pid_start, station, operator, work_order, attempt_key, claimed) " +
              "VALUES (?, ?, ?, ?, ?, ?, 'in-progress', ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
          )
          .get((a.time ?? new Date()).toISOString(), a.port, a.dsn, a.smsn, a.apid, a.stage, a.hsmSerial ?? null, a.dak ?? null, id.host, id.pid, id.pidStart ?? null, id.station, id.operator ?? null, id.workOrder ?? null, a.attemptKey ?? null) as { id: number };
        return row.id;
      }).immediate();
    } catch (e) {
      const key = conflictKey((e as Error).message);
      if (key === "dsn" || key === "smsn") throw new LedgerConflictError(key, key === "dsn" ? a.dsn : a.smsn, await this.holder(key === "dsn" ? { dsn: a.dsn } : { smsn: a.smsn }), e);
      throw e;
    }
  }

  async orphanedAttempts(): Promise<AttemptRecord[]> {
    const id = this.identity;
    const rows = this.db
      .query("SELECT * FROM attempts WHERE result = 'in-progress' AND host = ? AND (station IS NULL OR station = ?) AND pid IS NOT NULL ORDER BY id")
      .all(id.host, id.station) as Row[];
    return rows.map(toAttempt).filter((a) => !(a.pid === id.pid && (a.pidStart === undefined || a.pidStart === id.pidStart)) && !sameProcessAlive(a.pid!, a.pidStart));
  }

  async finishAttempt(id: number, o: AttemptOutcome): Promise<void> {
    this.db
      .query(
        "UPDATE attempts SET finished_at = ?, result = ?, failed_step = ?, error = ?, device_answer = ?, error_code = ?, control_log = ?, control_log_entry = ?, hsm_serial = coalesce(?, hsm_serial), dak = coalesce(?, dak), " +
          "claimed = CASE WHEN ? = 'provisioned' THEN claimed ELSE NULL END WHERE id = ?",
      )
      .run((o.time ?? new Date()).toISOString(), o.result, o.failedStep ?? null, o.error ?? null, o.deviceAnswer ?? null, o.errorCode ?? null, o.controlLog ?? null, o.controlLogEntry ?? null, o.hsmSerial ?? null, o.dak ?? null, o.result, id);
  }

  async recordAttempt(a: AttemptStart & AttemptOutcome): Promise<number> {
    const id = this.identity;
    const row = this.db
      .query(
        "INSERT INTO attempts (started_at, finished_at, port, dsn, smsn, apid, stage, result, failed_step, error, device_answer, error_code, control_log, hsm_serial, dak, host, pid, pid_start, station, operator, work_order) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      )
      .get(
        (a.time ?? new Date()).toISOString(), (a.time ?? new Date()).toISOString(), a.port, a.dsn, a.smsn, a.apid, a.stage, a.result, a.failedStep ?? null, a.error ?? null,
        a.deviceAnswer ?? null, a.errorCode ?? null, a.controlLog ?? null, a.hsmSerial ?? null, a.dak ?? null, id.host, id.pid, id.pidStart ?? null, id.station, id.operator ?? null, id.workOrder ?? null,
      ) as { id: number };
    return row.id;
  }

  async isProvisioned(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined> {
    const row = this.db.query("SELECT * FROM attempts WHERE result = 'provisioned' AND (dsn = ? OR smsn = ?) ORDER BY id DESC LIMIT 1").get(key.dsn ?? null, key.smsn?.toLowerCase() ?? null) as Row | null;
    return row ? toAttempt(row) : undefined;
  }

  async attemptsOf(dsn: string): Promise<AttemptRecord[]> {
    return (this.db.query("SELECT * FROM attempts WHERE dsn = ? ORDER BY id").all(dsn) as Row[]).map(toAttempt);
  }

  async holder(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined> {
    const row = this.db.query("SELECT * FROM attempts WHERE claimed = 1 AND (dsn = ? OR smsn = ?) ORDER BY id DESC LIMIT 1").get(key.dsn ?? null, key.smsn?.toLowerCase() ?? null) as Row | null;
    return row ? toAttempt(row) : undefined;
  }

  async nextSequence(template: string, start = 1): Promise<number> {
    return this.db.transaction(() => {
      const row = this.db.query("SELECT next FROM sequences WHERE template = ?").get(template) as { next: number } | null;
      const value = Math.max(row?.next ?? start, start);
      this.db.query("INSERT INTO sequences (template, next) VALUES (?, ?) ON CONFLICT (template) DO UPDATE SET next = excluded.next").run(template, value + 1);
      return value;
    }).immediate();
  }

  async addSignatures(dak: string, count = 1): Promise<number> {
    const row = this.db.query("INSERT INTO dak_signatures (dak, count) VALUES (?, ?) ON CONFLICT (dak) DO UPDATE SET count = count + excluded.count RETURNING count").get(dak, count) as { count: number };
    return row.count;
  }

  async signatureCount(dak: string): Promise<number> {
    return (this.db.query("SELECT count FROM dak_signatures WHERE dak = ?").get(dak) as { count: number } | null)?.count ?? 0;
  }

  async list(filter: { since?: Date | string; status?: AttemptResult; limit?: number } = {}): Promise<AttemptRecord[]> {
    checkStatus(filter.status);
    const since = filter.since === undefined ? null : typeof filter.since === "string" ? filter.since : filter.since.toISOString();
    const rows = this.db
      .query("SELECT * FROM attempts WHERE (?1 IS NULL OR started_at >= ?1) AND (?2 IS NULL OR result = ?2) ORDER BY id LIMIT ?3")
      .all(since, filter.status ?? null, filter.limit ?? -1) as Row[];
    return rows.map(toAttempt);
  }

  async recordControlLog(path: string, smsn: string, time = new Date()): Promise<void> {
    this.db.query("INSERT OR IGNORE INTO control_logs (path, smsn, created_at) VALUES (?, ?, ?)").run(path, smsn.toLowerCase(), time.toISOString());
  }

  async controlLogKnown(path: string): Promise<boolean> {
    return this.db.query("SELECT 1 FROM control_logs WHERE path = ?").get(path) !== null;
  }

  async pendingControlLogs(): Promise<ControlLogRecord[]> {
    return (this.db.query("SELECT * FROM control_logs WHERE consolidated_into IS NULL ORDER BY created_at, path").all() as Row[]).map(toControlLog);
  }

  async markConsolidated(paths: readonly string[], batchPath: string): Promise<void> {
    const update = this.db.query("UPDATE control_logs SET consolidated_into = ? WHERE path = ?");
    this.db.transaction(() => {
      for (const p of paths) update.run(batchPath, p);
    })();
  }

  // Consolidate's bookkeeping (issue 6). A device log is matched by its SMSN and file name, so
  // the same file reached through another directory spelling is still the same log.
  private logRows(smsn: string, path: string): { path: string; consolidated_into: string | null }[] {
    const name = baseName(path);
    return (this.db.query("SELECT path, consolidated_into FROM control_logs WHERE smsn = ?").all(smsn.toLowerCase()) as { path: string; consolidated_into: string | null }[]).filter((r) => baseName(r.path) === name);
  }

  async logConsolidatedInto(smsn: string, path: string): Promise<string | undefined> {
    return this.logRows(smsn, path).find((r) => r.consolidated_into !== null)?.consolidated_into ?? undefined;
  }

  async consolidatedLogKeys(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const r of this.db.query("SELECT smsn, path FROM control_logs WHERE consolidated_into IS NOT NULL").iterate() as IterableIterator<{ smsn: string; path: string }>) out.add(`${r.smsn}\t${baseName(r.path)}`);
    return out;
  }

  async markLogsConsolidated(logs: readonly { smsn: string; path: string }[], batchPath: string, time = new Date()): Promise<void> {
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

  async devicesIn(batchPath: string): Promise<string[]> {
    return (this.db.query("SELECT DISTINCT smsn FROM control_logs WHERE consolidated_into = ? ORDER BY smsn").all(batchPath) as { smsn: string }[]).map((r) => r.smsn);
  }

  async recordUpload(u: { file: string; target: string; remotePath?: string; time?: Date }): Promise<number> {
    const row = this.db.query("INSERT INTO uploads (file, target, remote_path, uploaded_at) VALUES (?, ?, ?, ?) RETURNING id").get(u.file, u.target, u.remotePath ?? null, (u.time ?? new Date()).toISOString()) as { id: number };
    return row.id;
  }

  async uploads(filter: { file?: string } = {}): Promise<UploadRecord[]> {
    return (this.db.query("SELECT * FROM uploads WHERE (?1 IS NULL OR file = ?1) ORDER BY id").all(filter.file ?? null) as Row[]).map(toUpload);
  }

  async ledgerId(): Promise<string> {
    return (this.db.query("SELECT id FROM ledger_info").get() as { id: string }).id;
  }

  async snapshot(): Promise<LedgerSnapshot> {
    return {
      id: await this.ledgerId(),
      attempts: (this.db.query("SELECT * FROM attempts ORDER BY id").all() as Row[]).map((r) => ({ ...toAttempt(r), claimed: r.claimed === 1 })),
      sequences: this.db.query("SELECT template, next FROM sequences ORDER BY template").all() as { template: string; next: number }[],
      signatures: this.db.query("SELECT dak, count FROM dak_signatures ORDER BY dak").all() as { dak: string; count: number }[],
      controlLogs: (this.db.query("SELECT * FROM control_logs ORDER BY path").all() as Row[]).map(toControlLog),
    };
  }

  async attemptKeyKnown(key: string): Promise<boolean> {
    return this.db.query("SELECT 1 FROM attempts WHERE attempt_key = ?").get(key) !== null;
  }

  async importAttempt(a: StoredAttempt, key: string): Promise<void> {
    this.db
      .query(
        "INSERT INTO attempts (started_at, finished_at, port, dsn, smsn, apid, stage, result, failed_step, error, device_answer, error_code, control_log, hsm_serial, dak, host, pid, pid_start, station, operator, work_order, attempt_key, claimed, control_log_entry) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(...importedValues(a, key));
  }

  async raiseSequence(template: string, next: number): Promise<boolean> {
    const row = this.db.query("SELECT next FROM sequences WHERE template = ?").get(template) as { next: number } | null;
    if (row && row.next >= next) return false;
    this.db.query("INSERT INTO sequences (template, next) VALUES (?, ?) ON CONFLICT (template) DO UPDATE SET next = excluded.next").run(template, next);
    return true;
  }

  async importSignatures(source: string, dak: string, count: number): Promise<number> {
    const before = (this.db.query("SELECT count FROM ledger_imports WHERE source = ? AND dak = ?").get(source, dak) as { count: number } | null)?.count ?? 0;
    if (count <= before) return 0;
    this.db.query("INSERT INTO ledger_imports (source, dak, count) VALUES (?, ?, ?) ON CONFLICT (source, dak) DO UPDATE SET count = excluded.count").run(source, dak, count);
    await this.addSignatures(dak, count - before);
    return count - before;
  }

  async importControlLog(c: ControlLogRecord): Promise<boolean> {
    const added = this.db.query("INSERT OR IGNORE INTO control_logs (path, smsn, created_at, consolidated_into) VALUES (?, ?, ?, ?)").run(c.path, c.smsn, c.createdAt, c.consolidatedInto ?? null).changes > 0;
    if (added || c.consolidatedInto === undefined) return added;
    return this.db.query("UPDATE control_logs SET consolidated_into = ? WHERE path = ? AND consolidated_into IS NULL").run(c.consolidatedInto, c.path).changes > 0;
  }

  /** Runs `work` in one write transaction (taken at once, waiting for another writer's lock). */
  async transaction<T>(work: (tx: Ledger) => Promise<T>): Promise<T> {
    // Nested transactions inside (markLogsConsolidated) become savepoints of this one.
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const value = await work(this);
      this.db.exec("COMMIT");
      return value;
    } catch (e) {
      if (this.db.inTransaction) this.db.exec("ROLLBACK");
      throw e;
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Every method's SQLite failure (locked, damaged, full) becomes the operator's LedgerError (its cause keeps the code). */
export function withLedgerErrors(ledger: SqliteLedger): Ledger {
  return new Proxy(ledger, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } catch (e) {
          throw ledgerError(e, target.path) ?? e;
        }
      };
    },
  });
}

/** An imported attempt's column values, in the order both engines' INSERT lists them. */
export function importedValues(a: StoredAttempt, key: string): (string | number | null)[] {
  return [
    a.startedAt, a.finishedAt ?? null, a.port, a.dsn, a.smsn, a.apid, a.stage, a.result, a.failedStep ?? null, a.error ?? null, a.deviceAnswer ?? null, a.errorCode ?? null,
    a.controlLog ?? null, a.hsmSerial ?? null, a.dak ?? null, a.host ?? null, a.pid ?? null, a.pidStart ?? null, a.station ?? null, a.operator ?? null, a.workOrder ?? null, key, a.claimed ? 1 : null,
    a.controlLogEntry ?? null,
  ];
}

export function checkStatus(status: string | undefined): void {
  if (status && !(ATTEMPT_RESULTS as readonly string[]).includes(status)) {
    throw new SwtoolError(`unknown status ${JSON.stringify(status)}`, { advice: `use ${ATTEMPT_RESULTS.join(", ")}` });
  }
}
