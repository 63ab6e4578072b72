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
// API (await openLedger(location, identity) returns a Ledger): see the interface in types.ts.
import { hostname } from "node:os";
import { openPostgresLedger } from "./postgres.ts";
import { SqliteLedger, withLedgerErrors } from "./sqlite.ts";
import { parseLedgerLocation, type LedgerLocation, type LocationOptions } from "./location.ts";
import { processStartTime } from "./process-start.ts";
import type { Ledger, LedgerIdentity } from "./types.ts";

export * from "./types.ts";
export const DEFAULT_LEDGER_NAME = "swtool.db";

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
