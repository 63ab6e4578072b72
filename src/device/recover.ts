// Closing the attempts a crashed station left `in-progress` (issue 5: a crash, a kill or a
// power cut must not leave a device half-counted). The flow writes the control log before it
// marks the attempt provisioned, so an orphaned attempt whose device has a control log in the
// station's directory (written after the attempt started, known to no other attempt) was
// provisioned: it is recorded as such. Any other orphan failed, and its device must be
// provisioned again (new keys, new chains, a control log).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { CONTROL_LOG_FILE_RE, readEntry } from "../controllog/format.ts";
import { readEntries } from "../controllog/stream-entries.ts";
import type { AttemptRecord, Ledger } from "../ledger/ledger.ts";

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
