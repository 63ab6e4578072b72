// The ledger: one repository, two engines. On a single line PC it is a SQLite file beside the
// control logs (default `swtool.db`); for a factory it is one PostgreSQL database that every
// line PC shares (`--ledger postgres://user@host:port/db`). Both have the same semantics:
// - every provisioning attempt is recorded, with the line PC (host, station), the process
//   (pid and start time, for crash recovery), operator and work order;
// - a DSN or SMSN is held by at most one attempt in progress or provisioned: a unique index,
//   so two stations racing for one number cannot both win (LedgerConflictError);
// - DSN template counters are committed before a number is handed out: never one twice, even
//   across crashes and line PCs;
// - signature counts per DAK, control logs through consolidation, uploads.
// Schemas are versioned (migrations.ts); opening a ledger brings it to the current version.
//
// API (await openLedger(location, identity) returns a Ledger): see the interface below.
import { hostname } from "node:os";
import { openPostgresLedger } from "./postgres.ts";
import { SqliteLedger, withLedgerErrors } from "./sqlite.ts";
import { parseLedgerLocation, type LedgerLocation, type LocationOptions } from "./location.ts";
import { processStartTime } from "./process-start.ts";
import type { AttemptOutcome, AttemptRecord, AttemptResult, AttemptStart, ControlLogRecord, LedgerIdentity, UploadRecord } from "./types.ts";

export * from "./types.ts";
export const DEFAULT_LEDGER_NAME = "swtool.db";

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
  /** Schema version of the database and of this swtool. */
  schemaVersion(): Promise<{ database: number; current: number; before?: number }>;
  close(): Promise<void>;
}

export interface OpenLedgerOptions extends LocationOptions {
  station?: string;
  operator?: string;
  workOrder?: string;
}

export function ledgerIdentity(options: OpenLedgerOptions = {}): LedgerIdentity {
  const host = hostname();
  const id: LedgerIdentity = { host, pid: process.pid, station: options.station ?? host };
  const start = processStartTime(process.pid);
  if (start !== undefined) id.pidStart = start;
  if (options.operator) id.operator = options.operator;
  if (options.workOrder) id.workOrder = options.workOrder;
  return id;
}

/** Opens (creating or upgrading) the ledger a `--ledger` value names. */
export async function openLedger(location: string | LedgerLocation, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const where = typeof location === "string" ? parseLedgerLocation(location, options) : location;
  const identity = ledgerIdentity(options);
  if (where.engine === "sqlite") return withLedgerErrors(new SqliteLedger(where.path, identity));
  return openPostgresLedger(where, identity);
}
