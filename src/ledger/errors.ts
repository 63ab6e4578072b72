// What a ledger failure means for the operator: SQLite's codes (bun:sqlite's SQLiteError.code)
// turned into one line naming the ledger, the cause and the fix, instead of "internal error".
import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";

export class LedgerError extends SwtoolError {}

/** How long a command waits for another process's write lock before it gives up. */
export const LEDGER_BUSY_TIMEOUT_MS = 5_000;

/** The operator's error for a SQLite failure on the ledger at `path`, or undefined if `e` is not one. */
export function ledgerError(e: unknown, path: string): LedgerError | undefined {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;
  const details = { cause: e };
  // Extended codes (SQLITE_IOERR_WRITE, SQLITE_BUSY_SNAPSHOT) by their primary code. A full
  // disk may show as an I/O error (the -shm file cannot be sized): the free space tells.
  const primary = /^SQLITE_[A-Z]+/.exec(code)![0];
  switch (primary === "SQLITE_IOERR" && diskFull(path) ? "SQLITE_FULL" : primary) {
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return new LedgerError(`the ledger ${path} is locked by another process (still locked after ${LEDGER_BUSY_TIMEOUT_MS / 1000} s)`, {
        ...details,
        advice: "another swtool (a line, a consolidate) is writing it: run this again when that finishes",
      });
    case "SQLITE_CORRUPT":
    case "SQLITE_NOTADB":
      return new LedgerError(`the ledger ${path} is damaged (${(e as Error).message})`, {
        ...details,
        advice: "stop the line, keep a copy of the file, and restore the ledger from its last backup (the control logs still record every provisioned device)",
      });
    case "SQLITE_FULL":
      return new LedgerError(`the ledger ${path} cannot grow: the disk is full`, { ...details, advice: "free space on that disk, then run this again" });
    case "SQLITE_READONLY":
    case "SQLITE_CANTOPEN":
    case "SQLITE_PERM":
      return new LedgerError(`cannot write the ledger ${path}: ${(e as Error).message}`, { ...details, advice: "check the file's and its directory's permissions, and that the disk is mounted read-write" });
    case "SQLITE_IOERR":
      return new LedgerError(`the ledger ${path} cannot be read or written: ${(e as Error).message}`, { ...details, advice: "check the disk (free space, errors in the system log)" });
    default:
      return new LedgerError(`the ledger ${path} failed: ${(e as Error).message} (${code})`, { ...details, advice: "check the file; run `swtool ledger --ledger FILE` to see whether it opens" });
  }
}

function diskFull(path: string): boolean {
  try {
    const s = statfsSync(dirname(path));
    return Number(s.bavail) * Number(s.bsize) < 64 * 1024;
  } catch {
    return false;
  }
}
