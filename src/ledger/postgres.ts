// The ledger's PostgreSQL engine: one database for every line PC of a factory, through Bun's
// built-in SQL client (`import { SQL } from "bun"`: no native add-on to ship in the single
// binary, pooled connections, TLS). Same semantics as the SQLite engine, held by the database
// itself rather than by one process:
// - the DSN counter is one INSERT ... ON CONFLICT DO UPDATE ... RETURNING (a row lock for the
//   statement, committed before the number is used: never handed out twice, across line PCs
//   and crashes);
// - a DSN and an SMSN are held by one attempt at most: partial unique indexes;
// - an attempt insert carries a random key, so retrying it after a lost reply finds the row
//   it already wrote instead of adding a second.
import { SQL } from "bun";
import { randomUUID } from "node:crypto";
import { SwtoolError } from "../lib/errors.ts";
import type { Ledger } from "./types.ts";
import type { PostgresLocation } from "./location.ts";
import { conflictKey, CURRENT_SCHEMA, POSTGRES_MIGRATIONS } from "./migrations.ts";
import { sameProcessAlive } from "./process-start.ts";
import { checkStatus, importedValues } from "./sqlite.ts";
import {
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

/** Any number that fits in a JavaScript number (BIGINT comes back as text). */
const num = (v: unknown) => Number(v);

/** An arbitrary constant: the advisory lock line PCs take while migrating. */
const MIGRATION_LOCK = 0x5377_4c65;

export async function migratePostgres(sql: SQL, display: string): Promise<number> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx.unsafe("CREATE TABLE IF NOT EXISTS swtool_schema (version INTEGER NOT NULL, migrated_at TEXT NOT NULL)");
    const [row] = await tx`SELECT max(version) AS version FROM swtool_schema`;
    const version = row?.version === null || row?.version === undefined ? 0 : num(row.version);
    if (version > CURRENT_SCHEMA) {
      throw new SwtoolError(`the ledger ${display} has schema version ${version}; this swtool knows up to ${CURRENT_SCHEMA}`, { advice: "use the newer swtool that migrated it" });
    }
    for (const m of POSTGRES_MIGRATIONS) {
      if (m.version <= version) continue;
      await tx.unsafe(m.sql);
      await tx`INSERT INTO swtool_schema (version, migrated_at) VALUES (${m.version}, ${new Date().toISOString()})`;
    }
    return version;
  });
}

export async function openPostgresLedger(where: PostgresLocation, identity: LedgerIdentity): Promise<PostgresLedger> {
  const sql = new SQL({
    hostname: where.host,
    port: where.port,
    username: where.user,
    database: where.database,
    ...(where.password !== undefined ? { password: where.password } : {}),
    ...(where.tls ? { tls: { ca: where.tls.ca, servername: where.tls.servername, rejectUnauthorized: true } } : { tls: false }),
    max: 4,
    connectionTimeout: 10,
    idleTimeout: 60,
  });
  try {
    const before = await migratePostgres(sql, where.display);
    return new PostgresLedger(sql, where.display, identity, before);
  } catch (e) {
    await sql.close().catch(() => {});
    if (e instanceof SwtoolError) throw e;
    if ((e as { code?: unknown }).code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      throw new SwtoolError(`cannot open the ledger ${where.display}: the database server's certificate is not issued for ${where.host}`, {
        advice: "connect by the host name the server's certificate names, or have its certificate issued for this name (sslmode=verify-full checks both)",
        cause: e,
      });
    }
    throw new SwtoolError(`cannot open the ledger ${where.display}: ${(e as Error).message}`, {
      advice: "check that the database server runs and is reachable, the user, database, password (PGPASSWORD or --ledger-password-file) and TLS settings",
      cause: e,
    });
  }
}

export class PostgresLedger implements Ledger {
  readonly engine = "postgres";

  constructor(
    private readonly sql: SQL,
    readonly path: string,
    readonly identity: LedgerIdentity,
    private readonly versionAtOpen: number,
    private readonly inTransaction = false,
  ) {}

  /** A transaction of its own, or a savepoint inside the caller's. */
  private atomic<T>(work: (tx: SQL) => Promise<T>): Promise<T> {
    const sql = this.sql as unknown as { savepoint(w: (tx: SQL) => Promise<T>): Promise<T> };
    return this.inTransaction ? sql.savepoint(work) : (this.sql.begin(work as never) as Promise<T>);
  }

  async transaction<T>(work: (tx: Ledger) => Promise<T>): Promise<T> {
    if (this.inTransaction) return work(this);
    return this.sql.begin((tx) => work(new PostgresLedger(tx as unknown as SQL, this.path, this.identity, this.versionAtOpen, true))) as Promise<T>;
  }

  async schemaVersion() {
    const [row] = await this.sql`SELECT max(version) AS version FROM swtool_schema`;
    return { database: num(row.version), current: CURRENT_SCHEMA, before: this.versionAtOpen };
  }

  async beginAttempt(a: AttemptStart & { reprovision?: boolean; attemptKey?: string }): Promise<number> {
    const id = this.identity;
    // Retried after a lost connection with the same key: it finds the row already written.
    const attemptKey = a.attemptKey ?? randomUUID();
    try {
      return await this.atomic(async (tx) => {
        const [existing] = await tx`SELECT id FROM attempts WHERE attempt_key = ${attemptKey}`;
        if (existing) return num(existing.id);
        if (a.reprovision) await tx`UPDATE attempts SET claimed = NULL WHERE claimed = 1 AND result = 'provisioned' AND (dsn = ${a.dsn} OR smsn = ${a.smsn})`;
        const [row] = await tx`
          INSERT INTO attempts (started_at, port, dsn, smsn, apid, stage, result, hsm_serial, dak, host, pid, pid_start, station, operator, work_order, attempt_key, claimed)
          VALUES (${(a.time ?? new Date()).toISOString()}, ${a.port}, ${a.dsn}, ${a.smsn}, ${a.apid}, ${a.stage}, 'in-progress', ${a.hsmSerial ?? null}, ${a.dak ?? null},
                  ${id.host}, ${id.pid}, ${id.pidStart ?? null}, ${id.station}, ${id.operator ?? null}, ${id.workOrder ?? null}, ${attemptKey}, 1)
          RETURNING id`;
        return num(row.id);
      });
    } catch (e) {
      const which = conflictKey(`${(e as { constraint?: string }).constraint ?? ""} ${(e as Error).message}`);
      if ((e as { errno?: string }).errno === "23505" && (which === "dsn" || which === "smsn")) {
        throw new LedgerConflictError(which, which === "dsn" ? a.dsn : a.smsn, await this.holder(which === "dsn" ? { dsn: a.dsn } : { smsn: a.smsn }), e);
      }
      throw e;
    }
  }

  async orphanedAttempts(): Promise<AttemptRecord[]> {
    const id = this.identity;
    const rows = (await this.sql`
      SELECT * FROM attempts WHERE result = 'in-progress' AND host = ${id.host} AND (station IS NULL OR station = ${id.station}) AND pid IS NOT NULL ORDER BY id`) as Row[];
    return rows.map(toAttempt).filter((a) => !(a.pid === id.pid && (a.pidStart === undefined || a.pidStart === id.pidStart)) && !sameProcessAlive(a.pid!, a.pidStart));
  }

  async finishAttempt(id: number, o: AttemptOutcome): Promise<void> {
    await this.sql`
      UPDATE attempts SET finished_at = ${(o.time ?? new Date()).toISOString()}, result = ${o.result}, failed_step = ${o.failedStep ?? null}, error = ${o.error ?? null},
        device_answer = ${o.deviceAnswer ?? null}, error_code = ${o.errorCode ?? null}, control_log = ${o.controlLog ?? null}, control_log_entry = ${o.controlLogEntry ?? null}, hsm_serial = coalesce(${o.hsmSerial ?? null}, hsm_serial), dak = coalesce(${o.dak ?? null}, dak),
        claimed = CASE WHEN ${o.result} = 'provisioned' THEN claimed ELSE NULL END
      WHERE id = ${id}`;
  }

  async recordAttempt(a: AttemptStart & AttemptOutcome): Promise<number> {
    const id = this.identity;
    const t = (a.time ?? new Date()).toISOString();
    const [row] = await this.sql`
      INSERT INTO attempts (started_at, finished_at, port, dsn, smsn, apid, stage, result, failed_step, error, device_answer, error_code, control_log, hsm_serial, dak, host, pid, pid_start, station, operator, work_order)
      VALUES (${t}, ${t}, ${a.port}, ${a.dsn}, ${a.smsn}, ${a.apid}, ${a.stage}, ${a.result}, ${a.failedStep ?? null}, ${a.error ?? null}, ${a.deviceAnswer ?? null}, ${a.errorCode ?? null},
              ${a.controlLog ?? null}, ${a.hsmSerial ?? null}, ${a.dak ?? null}, ${id.host}, ${id.pid}, ${id.pidStart ?? null}, ${id.station}, ${id.operator ?? null}, ${id.workOrder ?? null})
      RETURNING id`;
    return num(row.id);
  }

  async isProvisioned(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined> {
    const [row] = await this.sql`SELECT * FROM attempts WHERE result = 'provisioned' AND (dsn = ${key.dsn ?? null} OR smsn = ${key.smsn?.toLowerCase() ?? null}) ORDER BY id DESC LIMIT 1`;
    return row ? toAttempt(row) : undefined;
  }

  async attemptsOf(dsn: string): Promise<AttemptRecord[]> {
    return (await this.sql`SELECT * FROM attempts WHERE dsn = ${dsn} ORDER BY id`).map(toAttempt);
  }

  async holder(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined> {
    const [row] = await this.sql`SELECT * FROM attempts WHERE claimed = 1 AND (dsn = ${key.dsn ?? null} OR smsn = ${key.smsn?.toLowerCase() ?? null}) ORDER BY id DESC LIMIT 1`;
    return row ? toAttempt(row) : undefined;
  }

  async nextSequence(template: string, start = 1): Promise<number> {
    const [row] = await this.sql`
      INSERT INTO sequences (template, next) VALUES (${template}, ${start + 1})
      ON CONFLICT (template) DO UPDATE SET next = GREATEST(sequences.next, ${start}) + 1
      RETURNING next - 1 AS value`;
    return num(row.value);
  }

  async addSignatures(dak: string, count = 1): Promise<number> {
    const [row] = await this.sql`INSERT INTO dak_signatures (dak, count) VALUES (${dak}, ${count}) ON CONFLICT (dak) DO UPDATE SET count = dak_signatures.count + excluded.count RETURNING count`;
    return num(row.count);
  }

  async signatureCount(dak: string): Promise<number> {
    const [row] = await this.sql`SELECT count FROM dak_signatures WHERE dak = ${dak}`;
    return row ? num(row.count) : 0;
  }

  async list(filter: { since?: Date | string; status?: AttemptResult; limit?: number } = {}): Promise<AttemptRecord[]> {
    checkStatus(filter.status);
    const since = filter.since === undefined ? null : typeof filter.since === "string" ? filter.since : filter.since.toISOString();
    const rows = (await this.sql`
      SELECT * FROM attempts WHERE (${since}::text IS NULL OR started_at >= ${since}) AND (${filter.status ?? null}::text IS NULL OR result = ${filter.status ?? null})
      ORDER BY id LIMIT ${filter.limit ?? null}`) as Row[];
    return rows.map(toAttempt);
  }

  async recordControlLog(path: string, smsn: string, time = new Date()): Promise<void> {
    await this.sql`INSERT INTO control_logs (path, smsn, created_at) VALUES (${path}, ${smsn.toLowerCase()}, ${time.toISOString()}) ON CONFLICT (path) DO NOTHING`;
  }

  async controlLogKnown(path: string): Promise<boolean> {
    return (await this.sql`SELECT 1 FROM control_logs WHERE path = ${path}`).length > 0;
  }

  async pendingControlLogs(): Promise<ControlLogRecord[]> {
    return ((await this.sql`SELECT * FROM control_logs WHERE consolidated_into IS NULL ORDER BY created_at, path`) as Row[]).map(toControlLog);
  }

  async markConsolidated(paths: readonly string[], batchPath: string): Promise<void> {
    await this.atomic(async (tx) => {
      for (const p of paths) await tx`UPDATE control_logs SET consolidated_into = ${batchPath} WHERE path = ${p}`;
    });
  }

  async logConsolidatedInto(smsn: string, path: string): Promise<string | undefined> {
    const name = baseName(path);
    const rows = (await this.sql`SELECT path, consolidated_into FROM control_logs WHERE smsn = ${smsn.toLowerCase()} AND consolidated_into IS NOT NULL`) as Row[];
    return (rows.find((r) => baseName(r.path as string) === name)?.consolidated_into as string | undefined) ?? undefined;
  }

  async consolidatedLogKeys(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const r of (await this.sql`SELECT smsn, path FROM control_logs WHERE consolidated_into IS NOT NULL`) as Row[]) out.add(`${r.smsn}\t${baseName(r.path as string)}`);
    return out;
  }

  async markLogsConsolidated(logs: readonly { smsn: string; path: string }[], batchPath: string, time = new Date()): Promise<void> {
    await this.atomic(async (tx) => {
      for (const log of logs) {
        const name = baseName(log.path);
        const rows = ((await tx`SELECT path FROM control_logs WHERE smsn = ${log.smsn.toLowerCase()}`) as Row[]).filter((r) => baseName(r.path as string) === name);
        if (rows.length === 0) await tx`INSERT INTO control_logs (path, smsn, created_at) VALUES (${log.path}, ${log.smsn.toLowerCase()}, ${time.toISOString()}) ON CONFLICT (path) DO NOTHING`;
        for (const p of rows.length ? rows.map((r) => r.path as string) : [log.path]) await tx`UPDATE control_logs SET consolidated_into = ${batchPath} WHERE path = ${p}`;
      }
    });
  }

  async devicesIn(batchPath: string): Promise<string[]> {
    return ((await this.sql`SELECT DISTINCT smsn FROM control_logs WHERE consolidated_into = ${batchPath} ORDER BY smsn`) as Row[]).map((r) => r.smsn as string);
  }

  async recordUpload(u: { file: string; target: string; remotePath?: string; time?: Date }): Promise<number> {
    const [row] = await this.sql`INSERT INTO uploads (file, target, remote_path, uploaded_at) VALUES (${u.file}, ${u.target}, ${u.remotePath ?? null}, ${(u.time ?? new Date()).toISOString()}) RETURNING id`;
    return num(row.id);
  }

  async uploads(filter: { file?: string } = {}): Promise<UploadRecord[]> {
    return ((await this.sql`SELECT * FROM uploads WHERE (${filter.file ?? null}::text IS NULL OR file = ${filter.file ?? null}) ORDER BY id`) as Row[]).map(toUpload);
  }

  async ledgerId(): Promise<string> {
    const [row] = await this.sql`SELECT id FROM ledger_info`;
    return row.id as string;
  }

  async snapshot(): Promise<LedgerSnapshot> {
    return {
      id: await this.ledgerId(),
      attempts: ((await this.sql`SELECT * FROM attempts ORDER BY id`) as Row[]).map((r) => ({ ...toAttempt(r), claimed: num(r.claimed) === 1 })),
      sequences: ((await this.sql`SELECT template, next FROM sequences ORDER BY template`) as Row[]).map((r) => ({ template: r.template as string, next: num(r.next) })),
      signatures: ((await this.sql`SELECT dak, count FROM dak_signatures ORDER BY dak`) as Row[]).map((r) => ({ dak: r.dak as string, count: num(r.count) })),
      controlLogs: ((await this.sql`SELECT * FROM control_logs ORDER BY path`) as Row[]).map(toControlLog),
    };
  }

  async attemptKeyKnown(key: string): Promise<boolean> {
    return (await this.sql`SELECT 1 FROM attempts WHERE attempt_key = ${key}`).length > 0;
  }

  async importAttempt(a: StoredAttempt, key: string): Promise<void> {
    await this.sql.unsafe(
      "INSERT INTO attempts (started_at, finished_at, port, dsn, smsn, apid, stage, result, failed_step, error, device_answer, error_code, control_log, hsm_serial, dak, host, pid, pid_start, station, operator, work_order, attempt_key, claimed, control_log_entry) " +
        `VALUES (${Array.from({ length: 24 }, (_, i) => `$${i + 1}`).join(", ")})`,
      importedValues(a, key),
    );
  }

  async raiseSequence(template: string, next: number): Promise<boolean> {
    const rows = await this.sql`
      INSERT INTO sequences (template, next) VALUES (${template}, ${next})
      ON CONFLICT (template) DO UPDATE SET next = excluded.next WHERE sequences.next < excluded.next
      RETURNING next`;
    return rows.length > 0;
  }

  async importSignatures(source: string, dak: string, count: number): Promise<number> {
    return this.atomic(async (tx) => {
      const [row] = await tx`SELECT count FROM ledger_imports WHERE source = ${source} AND dak = ${dak} FOR UPDATE`;
      const before = row ? num(row.count) : 0;
      if (count <= before) return 0;
      await tx`INSERT INTO ledger_imports (source, dak, count) VALUES (${source}, ${dak}, ${count}) ON CONFLICT (source, dak) DO UPDATE SET count = excluded.count`;
      await tx`INSERT INTO dak_signatures (dak, count) VALUES (${dak}, ${count - before}) ON CONFLICT (dak) DO UPDATE SET count = dak_signatures.count + excluded.count`;
      return count - before;
    });
  }

  async importControlLog(c: ControlLogRecord): Promise<boolean> {
    const added = await this.sql`
      INSERT INTO control_logs (path, smsn, created_at, consolidated_into) VALUES (${c.path}, ${c.smsn}, ${c.createdAt}, ${c.consolidatedInto ?? null})
      ON CONFLICT (path) DO NOTHING RETURNING path`;
    if (added.length > 0 || c.consolidatedInto === undefined) return added.length > 0;
    return (await this.sql`UPDATE control_logs SET consolidated_into = ${c.consolidatedInto} WHERE path = ${c.path} AND consolidated_into IS NULL RETURNING path`).length > 0;
  }

  async close(): Promise<void> {
    if (!this.inTransaction) await this.sql.close();
  }
}
