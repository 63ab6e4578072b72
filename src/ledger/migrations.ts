// Versioned schemas of the ledger, one list per engine, applied in order inside a transaction
// by `swtool ledger migrate` and whenever a ledger is opened. SQLite keeps the version in
// `PRAGMA user_version`; PostgreSQL in the table swtool_schema (under an advisory lock, so
// line PCs starting together migrate once). A ledger made by a newer swtool is refused.
//   1  attempts, sequences, dak_signatures, control_logs, uploads (the first release)
//   2  attempts.host, attempts.pid (crash recovery)
//   3  attempts.pid_start, station, operator, work_order, attempt_key, claimed: a DSN and an
//      SMSN are held by one attempt at most (unique indexes), retries are idempotent
//   4  ledger_info (a random id naming this ledger), ledger_imports (what `swtool ledger import`
//      took from each source ledger: DAK signature counts are added once, however often a file is imported)
//   5  attempts.control_log_entry: the finished control-log entry of a board that stored its
//      identity but whose log could not be written (`swtool ledger write-log` publishes it)
// PostgreSQL ledgers start at version 3 (no older ones exist).

export const CURRENT_SCHEMA = 5;

export interface SqliteMigration {
  version: number;
  /** Statements; `addColumns` are added only where missing (ledgers from before versioning). */
  sql?: string;
  addColumns?: [string, string][];
  after?: string;
}

export const SQLITE_MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    sql: `
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
);`,
  },
  { version: 2, addColumns: [["host", "TEXT"], ["pid", "INTEGER"]] },
  {
    version: 3,
    addColumns: [["pid_start", "TEXT"], ["station", "TEXT"], ["operator", "TEXT"], ["work_order", "TEXT"], ["attempt_key", "TEXT"], ["claimed", "INTEGER"]],
    // Older ledgers may hold a DSN twice (--allow-reprovision): the latest attempt keeps it.
    after: `
UPDATE attempts SET claimed = 1 WHERE result IN ('in-progress', 'provisioned')
  AND id = (SELECT max(a.id) FROM attempts a WHERE a.dsn = attempts.dsn AND a.result IN ('in-progress', 'provisioned'))
  AND id = (SELECT max(a.id) FROM attempts a WHERE a.smsn = attempts.smsn AND a.result IN ('in-progress', 'provisioned'));
CREATE UNIQUE INDEX attempts_dsn_claim ON attempts (dsn) WHERE claimed = 1;
CREATE UNIQUE INDEX attempts_smsn_claim ON attempts (smsn) WHERE claimed = 1;
CREATE UNIQUE INDEX attempts_key ON attempts (attempt_key);
CREATE INDEX attempts_open ON attempts (host, result);`,
  },
  {
    version: 4,
    sql: `
CREATE TABLE ledger_info (id TEXT NOT NULL);
INSERT INTO ledger_info (id) VALUES (lower(hex(randomblob(16))));
CREATE TABLE ledger_imports (source TEXT NOT NULL, dak TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (source, dak));`,
  },
  { version: 5, addColumns: [["control_log_entry", "TEXT"]] },
];

export interface PostgresMigration {
  version: number;
  sql: string;
}

export const POSTGRES_MIGRATIONS: PostgresMigration[] = [
  {
    version: 3,
    sql: `
CREATE TABLE attempts (
  id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
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
  dak TEXT,
  host TEXT,
  pid INTEGER,
  pid_start TEXT,
  station TEXT,
  operator TEXT,
  work_order TEXT,
  attempt_key TEXT,
  claimed INTEGER
);
CREATE INDEX attempts_dsn ON attempts (dsn, result);
CREATE INDEX attempts_smsn ON attempts (smsn, result);
CREATE INDEX attempts_started ON attempts (started_at);
CREATE UNIQUE INDEX attempts_dsn_claim ON attempts (dsn) WHERE claimed = 1;
CREATE UNIQUE INDEX attempts_smsn_claim ON attempts (smsn) WHERE claimed = 1;
CREATE UNIQUE INDEX attempts_key ON attempts (attempt_key);
CREATE INDEX attempts_open ON attempts (host, result);
CREATE TABLE sequences (template TEXT PRIMARY KEY, next BIGINT NOT NULL);
CREATE TABLE dak_signatures (dak TEXT PRIMARY KEY, count BIGINT NOT NULL);
CREATE TABLE control_logs (
  path TEXT PRIMARY KEY,
  smsn TEXT NOT NULL,
  created_at TEXT NOT NULL,
  consolidated_into TEXT
);
CREATE INDEX control_logs_smsn ON control_logs (smsn);
CREATE INDEX control_logs_batch ON control_logs (consolidated_into);
CREATE TABLE uploads (
  id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  file TEXT NOT NULL,
  target TEXT NOT NULL,
  remote_path TEXT,
  uploaded_at TEXT NOT NULL
);`,
  },
  {
    version: 4,
    sql: `
CREATE TABLE ledger_info (id TEXT NOT NULL);
INSERT INTO ledger_info (id) VALUES (md5(random()::text || clock_timestamp()::text));
CREATE TABLE ledger_imports (source TEXT NOT NULL, dak TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (source, dak));`,
  },
  { version: 5, sql: "ALTER TABLE attempts ADD COLUMN control_log_entry TEXT;" },
];

/** The unique index a constraint violation names: which key was taken. */
export function conflictKey(message: string): "dsn" | "smsn" | "key" | undefined {
  if (/attempts_dsn_claim|attempts\.dsn\b/.test(message)) return "dsn";
  if (/attempts_smsn_claim|attempts\.smsn\b/.test(message)) return "smsn";
  if (/attempts_key|attempts\.attempt_key\b/.test(message)) return "key";
  return undefined;
}
