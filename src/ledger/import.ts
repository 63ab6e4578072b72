// `swtool ledger import`: carries a line PC's ledger (its SQLite swtool.db) into the factory
// ledger, so that moving to one PostgreSQL ledger re-issues no number. In one transaction of
// the target: every attempt as it was recorded (its host, pid, station, times; keyed by what
// it recorded at its start, so a second import of the same file, or of a copy of it, adds
// nothing), DSN template counters raised to at least the source's, DAK signature counts (what
// each source ledger added is remembered, so only signatures made since its last import are
// added; a source is known by its first attempt, the same in every copy), control logs and
// their consolidation marks. A device the target already holds under another attempt (the same DSN
// or SMSN, provisioned or in progress) refuses the whole import, naming both attempts.
import { createHash } from "node:crypto";
import { SwtoolError } from "../lib/errors.ts";
import type { AttemptRecord, Ledger, StoredAttempt } from "./types.ts";

export interface ImportSummary {
  attempts: number;
  /** Attempts an earlier import of this source already brought. */
  alreadyImported: number;
  countersRaised: number;
  signaturesAdded: number;
  controlLogs: number;
}

const state = (a: AttemptRecord) => (a.result === "provisioned" ? "provisioned" : "in progress");
const where = (a: AttemptRecord, ledger: string) => `in ${ledger} (attempt ${a.id}${a.station ?? a.host ? `, ${a.station ?? a.host}` : ""})`;

/** The one line for a device both ledgers hold under different attempts. */
function conflict(held: AttemptRecord, target: string, incoming: StoredAttempt, source: string): SwtoolError {
  const ours = `${state(held)} ${where(held, target)}`;
  const theirs = `${state(incoming)} ${where(incoming, source)}`;
  const what =
    held.smsn === incoming.smsn && held.dsn !== incoming.dsn
      ? `SMSN ${held.smsn} is ${state(held)} with DSN ${held.dsn} ${where(held, target)} and ${state(incoming)} with DSN ${incoming.dsn} ${where(incoming, source)}`
      : held.dsn === incoming.dsn && held.smsn !== incoming.smsn
        ? `DSN ${held.dsn} is ${state(held)} with SMSN ${held.smsn} ${where(held, target)} and ${state(incoming)} with SMSN ${incoming.smsn} ${where(incoming, source)}`
        : `DSN ${held.dsn} (SMSN ${held.smsn}) is ${ours} and ${theirs}`;
  return new SwtoolError(`ledger import refused: ${what}`, {
    advice: "two boards may carry the same number: find them by their control logs and settle which keeps it; nothing was imported",
  });
}

const digest = (...parts: unknown[]) => createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 32);

/** An attempt's import key: what it recorded at its start, whichever copy of its ledger it comes from. */
const attemptKey = (a: StoredAttempt) => `import:${digest(a.startedAt, a.host ?? null, a.pid ?? null, a.station ?? null, a.port, a.dsn, a.smsn)}`;

export async function importLedger(source: Ledger, target: Ledger): Promise<ImportSummary> {
  const snap = await source.snapshot();
  if (snap.id === (await target.ledgerId())) {
    throw new SwtoolError(`ledger import: ${source.path} and ${target.path} are the same ledger`, { advice: "give --from the line PC's ledger file and --ledger the factory ledger" });
  }
  const summary: ImportSummary = { attempts: 0, alreadyImported: 0, countersRaised: 0, signaturesAdded: 0, controlLogs: 0 };
  // A ledger from before schema 4 got its random id when it was first opened: a copy migrated
  // elsewhere has another one, but the same first attempt.
  const first = snap.attempts[0];
  const sourceKey = first ? `first:${attemptKey(first)}` : snap.id;
  return target.transaction(async (tx) => {
    for (const a of snap.attempts) {
      const key = attemptKey(a);
      if (await tx.attemptKeyKnown(key)) {
        summary.alreadyImported++;
        continue;
      }
      if (a.claimed) {
        for (const held of [await tx.holder({ dsn: a.dsn }), await tx.holder({ smsn: a.smsn })]) if (held) throw conflict(held, target.path, a, source.path);
      }
      await tx.importAttempt(a, key);
      summary.attempts++;
    }
    for (const s of snap.sequences) if (await tx.raiseSequence(s.template, s.next)) summary.countersRaised++;
    for (const d of snap.signatures) summary.signaturesAdded += await tx.importSignatures(sourceKey, d.dak, d.count);
    for (const c of snap.controlLogs) if (await tx.importControlLog(c)) summary.controlLogs++;
    return summary;
  });
}
