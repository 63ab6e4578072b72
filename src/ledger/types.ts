// What the ledger stores, shared by both engines (SQLite on one line PC, PostgreSQL for a
// factory): provisioning attempts, DSN template counters, DAK signature counts, control logs
// through consolidation, uploads. Times are ISO 8601 UTC text in both engines, so they compare
// and print the same.
import { SwtoolError } from "../lib/errors.ts";

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
  /**
   * The finished control-log entry (its JSON) of a board that stored its identity but whose
   * log could not be written: `swtool ledger write-log` publishes it, no new signature needed.
   */
  controlLogEntry?: string;
  /** The HSM (serial) that signed the device, when known only once it signed (several HSMs). */
  hsmSerial?: string;
  /** The DAK that signed it (several HSMs may hold different DAKs of the product). */
  dak?: string;
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
  /** The process's start time (with the pid, tells a reused pid from the station that wrote the row). */
  pidStart?: string;
  station?: string;
  operator?: string;
  workOrder?: string;
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

/** Who writes the attempts: recorded with every attempt; crash recovery keys on it. */
export interface LedgerIdentity {
  host: string;
  pid: number;
  /** Process start time as the OS reports it (undefined where it cannot be read). */
  pidStart?: string;
  /** `--station NAME` (default: the host name). */
  station: string;
  operator?: string;
  workOrder?: string;
}

export type Row = Record<string, string | number | boolean | null>;

export function toAttempt(row: Row): AttemptRecord {
  const r: AttemptRecord = {
    id: Number(row.id),
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
    ["controlLogEntry", "control_log_entry"],
    ["hsmSerial", "hsm_serial"],
    ["dak", "dak"],
    ["host", "host"],
    ["pid", "pid"],
    ["pidStart", "pid_start"],
    ["station", "station"],
    ["operator", "operator"],
    ["workOrder", "work_order"],
  ];
  for (const [key, column] of optional) if (row[column] !== null && row[column] !== undefined) (r as unknown as Row)[key] = row[column]!;
  return r;
}

export function toControlLog(r: Row): ControlLogRecord {
  const c: ControlLogRecord = { path: r.path as string, smsn: r.smsn as string, createdAt: r.created_at as string };
  if (r.consolidated_into !== null && r.consolidated_into !== undefined) c.consolidatedInto = r.consolidated_into as string;
  return c;
}

export function toUpload(r: Row): UploadRecord {
  const u: UploadRecord = { id: Number(r.id), file: r.file as string, target: r.target as string, uploadedAt: r.uploaded_at as string };
  if (r.remote_path !== null && r.remote_path !== undefined) u.remotePath = r.remote_path as string;
  return u;
}

/** The file name of a control-log path, on either OS. */
export const baseName = (path: string) => path.split(/[\\/]/).pop()!;

/** The DSN or SMSN is held by another attempt (in progress on a station, or provisioned). */
export class LedgerConflictError extends SwtoolError {
  constructor(
    readonly key: "dsn" | "smsn",
    readonly value: string,
    readonly holder: AttemptRecord | undefined,
    cause?: unknown,
  ) {
    const who = holder
      ? holder.result === "provisioned"
        ? `provisioned by attempt ${holder.id} on ${holder.station ?? holder.host ?? "?"}`
        : `in progress on ${holder.station ?? holder.host ?? "?"} (attempt ${holder.id}, port ${holder.port})`
      : "held by another attempt";
    super(`${key === "dsn" ? "DSN" : "SMSN"} ${value} is ${who}`, { advice: "every device needs its own DSN; check the DSN file or template of each line PC", cause });
  }
}

/** An attempt as a ledger holds it, for `ledger import`: whether it holds its DSN and SMSN. */
export interface StoredAttempt extends AttemptRecord {
  claimed: boolean;
}

/** Everything a ledger holds that `swtool ledger import` carries into another (uploads stay where they were made). */
export interface LedgerSnapshot {
  /** The ledger's own random id (schema 4). */
  id: string;
  attempts: StoredAttempt[];
  sequences: { template: string; next: number }[];
  signatures: { dak: string; count: number }[];
  controlLogs: ControlLogRecord[];
}

/** The ledger as every engine implements it (openLedger in ledger.ts opens one). */
export interface Ledger {
  readonly engine: "sqlite" | "postgres";
  /** File path or URL (no password), for messages. */
  readonly path: string;
  readonly identity: LedgerIdentity;

  /** Records an in-progress attempt; LedgerConflictError when its DSN or SMSN is held. */
  beginAttempt(a: AttemptStart & { reprovision?: boolean; attemptKey?: string }): Promise<number>;
  finishAttempt(id: number, o: AttemptOutcome): Promise<void>;
  /** A whole attempt in one call (a device refused before it was touched, imports): never holds its DSN. */
  recordAttempt(a: AttemptStart & AttemptOutcome): Promise<number>;
  /** In-progress attempts of this host and station whose process is gone (pid dead, or reused by another). */
  orphanedAttempts(): Promise<AttemptRecord[]>;
  /** The provisioned attempt for this DSN or SMSN, if there is one. */
  isProvisioned(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined>;
  /** Every attempt for this DSN, oldest first. */
  attemptsOf(dsn: string): Promise<AttemptRecord[]>;
  /** The attempt in progress or provisioned that holds this DSN or SMSN, if any. */
  holder(key: { dsn?: string; smsn?: string }): Promise<AttemptRecord | undefined>;
  /** The next number of a DSN template (at least `start`), committed before it is returned. */
  nextSequence(template: string, start?: number): Promise<number>;
  /** Adds to a DAK's signature count (factory-wide on PostgreSQL) and returns the new total. */
  addSignatures(dak: string, count?: number): Promise<number>;
  signatureCount(dak: string): Promise<number>;
  list(filter?: { since?: Date | string; status?: AttemptResult; limit?: number }): Promise<AttemptRecord[]>;
  recordControlLog(path: string, smsn: string, time?: Date): Promise<void>;
  controlLogKnown(path: string): Promise<boolean>;
  pendingControlLogs(): Promise<ControlLogRecord[]>;
  markConsolidated(paths: readonly string[], batchPath: string): Promise<void>;
  /** The consolidated file that already holds this device log (matched by SMSN and file name), if any. */
  logConsolidatedInto(smsn: string, path: string): Promise<string | undefined>;
  /** `smsn \t file name` of every device log already consolidated (consolidate --new-only). */
  consolidatedLogKeys(): Promise<Set<string>>;
  /** Records that these device logs went into `batchPath` (recording logs the ledger did not know), in one transaction. */
  markLogsConsolidated(logs: readonly { smsn: string; path: string }[], batchPath: string, time?: Date): Promise<void>;
  devicesIn(batchPath: string): Promise<string[]>;
  recordUpload(u: { file: string; target: string; remotePath?: string; time?: Date }): Promise<number>;
  uploads(filter?: { file?: string }): Promise<UploadRecord[]>;
  /** Runs `work` in one transaction: everything it writes through `tx` is kept, or nothing. */
  transaction<T>(work: (tx: Ledger) => Promise<T>): Promise<T>;
  /** The ledger's random id (tells one ledger from another, wherever its file is copied). */
  ledgerId(): Promise<string>;
  snapshot(): Promise<LedgerSnapshot>;
  /** Whether an attempt with this key is recorded (an imported attempt's key names its source row). */
  attemptKeyKnown(key: string): Promise<boolean>;
  /** Writes another ledger's attempt as it was (its host, pid, station, times, claim) under `key`. */
  importAttempt(a: StoredAttempt, key: string): Promise<void>;
  /** Raises a DSN template's counter to at least `next`; whether it was raised. */
  raiseSequence(template: string, next: number): Promise<boolean>;
  /** Adds what `source` signed with `dak` beyond what an earlier import of it added; returns the signatures added. */
  importSignatures(source: string, dak: string, count: number): Promise<number>;
  /** Records another ledger's control log (and its consolidation, where this ledger has none); whether anything changed. */
  importControlLog(c: ControlLogRecord): Promise<boolean>;
  /** Schema version of the database and of this swtool. */
  schemaVersion(): Promise<{ database: number; current: number; before?: number }>;
  close(): Promise<void>;
}
