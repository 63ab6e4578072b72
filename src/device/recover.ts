// Closing the attempts a crashed station left `in-progress` (issue 5: a crash, a kill or a
// power cut must not leave a device half-counted). The flow writes the control log before it
// marks the attempt provisioned, so an orphaned attempt whose device has a control log in the
// station's directory (written after the attempt started, known to no other attempt) was
// provisioned: it is recorded as such. Any other orphan failed, and its device must be
// provisioned again (new keys, new chains, a control log).
// A board that stored its identity while its log could not be written (a full disk) has its
// finished entry kept in the ledger: `writeLogFromLedger` publishes it later.
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CONTROL_LOG_FILE_RE, readEntry } from "../controllog/format.ts";
import { readEntries } from "../controllog/stream-entries.ts";
import type { AttemptRecord, Ledger } from "../ledger/ledger.ts";
import { writeControlLog } from "../controllog/writer.ts";
import { EntryValidator } from "../controllog/validate.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import { SwtoolError } from "../lib/errors.ts";

export interface RecoveredAttempt {
  attempt: AttemptRecord;
  result: "provisioned" | "failed";
  controlLog?: string;
}

export const INTERRUPTED_STEP = "interrupted";

/** Control logs in `dir` written since `since` and unknown to the ledger, by SMSN. */
async function newControlLogs(ledger: Ledger, dir: string, since: number, wanted: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => CONTROL_LOG_FILE_RE.test(n));
  } catch {
    return found;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (statSync(path).mtimeMs < since || (await ledger.controlLogKnown(path))) continue;
      readEntries(path, (raw, i) => {
        const smsn = readEntry(raw, i).serialNumber;
        if (wanted.has(smsn) && !found.has(smsn)) found.set(smsn, path);
      });
    } catch {
      // Not a readable control log: it cannot vouch for a device.
    }
  }
  return found;
}

export async function recoverOrphanedAttempts(ledger: Ledger, controlLogDir: string, now = new Date()): Promise<RecoveredAttempt[]> {
  const orphans = await ledger.orphanedAttempts();
  if (orphans.length === 0) return [];
  // A second of slack: file times and the ledger's clock reading are not taken at one instant.
  const since = Math.min(...orphans.map((a) => Date.parse(a.startedAt))) - 1000;
  const logs = await newControlLogs(ledger, controlLogDir, since, new Set(orphans.map((a) => a.smsn)));
  const out: RecoveredAttempt[] = [];
  for (const attempt of orphans) {
    const controlLog = logs.get(attempt.smsn);
    if (controlLog) {
      logs.delete(attempt.smsn);
      await ledger.finishAttempt(attempt.id, { result: "provisioned", controlLog, error: "recovered: swtool stopped after the control log was written", time: now });
      await ledger.recordControlLog(controlLog, attempt.smsn, now);
      out.push({ attempt, result: "provisioned", controlLog });
      continue;
    }
    await ledger.finishAttempt(attempt.id, {
      result: "failed",
      failedStep: INTERRUPTED_STEP,
      error: "swtool stopped (crash, kill or power cut) before this device was done; no control log was written: provision the device again",
      time: now,
    });
    out.push({ attempt, result: "failed" });
  }
  return out;
}

/** What `swtool ledger write-log` did. */
export interface WrittenLog {
  /** The failed attempt whose entry was published, and the attempt that records the device provisioned. */
  from: AttemptRecord;
  attempt: number;
  controlLog: string;
  smsn: string;
}

/**
 * Publishes the control log of a board that stored its identity while its log could not be
 * written (a full disk), from the entry the ledger kept: no new DAK signature, the board
 * keeps the identity it holds. The device is then recorded provisioned by a new attempt that
 * holds its DSN and SMSN (refused if another attempt holds them since, e.g. it was provisioned
 * again). Throws a SwtoolError naming what is missing.
 */
export async function writeLogFromLedger(ledger: Ledger, dsn: string, controlLogDir: string): Promise<WrittenLog> {
  const attempts = await ledger.attemptsOf(dsn);
  const from = attempts.findLast((a) => a.controlLogEntry !== undefined);
  if (!from) {
    throw new SwtoolError(`the ledger ${ledger.path} keeps no control-log entry for DSN ${dsn}`, {
      advice: attempts.length ? "only a board that stored its identity without a log has one: provision that board again" : "check the DSN and --ledger",
    });
  }
  const later = attempts.find((a) => a.id > from.id && a.result !== "failed");
  if (later) throw new SwtoolError(`DSN ${dsn} was ${later.result} again after attempt ${from.id} (attempt ${later.id}); its kept entry is out of date`, { advice: "nothing to write: the board holds the newer identity" });
  // Every chain is verified again before it reaches a log (the ledger is only a database).
  const entry = new EntryValidator().check(parseStrictJson(from.controlLogEntry!, "the ledger's control-log entry"), 0);
  if (entry.serialNumber !== from.smsn) throw new SwtoolError(`the ledger's control-log entry for DSN ${dsn} names SMSN ${entry.serialNumber}, the attempt ${from.smsn}`);
  const id = await ledger.beginAttempt({ port: from.port, dsn, smsn: from.smsn, apid: from.apid, stage: from.stage, ...(from.hsmSerial ? { hsmSerial: from.hsmSerial } : {}), ...(from.dak ? { dak: from.dak } : {}) });
  let controlLog: string;
  try {
    controlLog = await writeControlLog(controlLogDir, [entry]);
  } catch (e) {
    await ledger.finishAttempt(id, { result: "failed", failedStep: "control-log", error: `write-log: ${(e as Error).message}`, controlLogEntry: from.controlLogEntry! });
    throw new SwtoolError(`cannot write the control log of DSN ${dsn} into ${controlLogDir}: ${(e as Error).message}`, { advice: "free space there (or fix its permissions) and run this again; the entry stays in the ledger", cause: e });
  }
  await ledger.finishAttempt(id, { result: "provisioned", controlLog, error: `control log written from the ledger's entry of attempt ${from.id}`, ...(from.hsmSerial ? { hsmSerial: from.hsmSerial } : {}), ...(from.dak ? { dak: from.dak } : {}) });
  await ledger.recordControlLog(controlLog, from.smsn);
  return { from, attempt: id, controlLog, smsn: from.smsn };
}
