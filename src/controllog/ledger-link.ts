// What consolidate tells the ledger (issue 6): which consolidated file holds each device log,
// recorded only once that file is published. The list of written logs is spooled to a
// temporary file rather than kept in memory (a shift can have a million devices), then
// replayed into the ledger in transactions of a few thousand.
import { closeSync, existsSync, ftruncateSync, mkdtempSync, openSync, readSync, statSync } from "node:fs";
import { removeScratchDir } from "../lib/scratch-dir.ts";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { DEFAULT_LEDGER_NAME, openLedger, type Ledger, type OpenLedgerOptions } from "../ledger/ledger.ts";
import { looksLikeUrl } from "../ledger/location.ts";
import { writeAllSync } from "../lib/atomic.ts";
import { retryingLedger } from "../ledger/retry.ts";

/**
 * The ledger to use: the one named, else a `swtool.db` beside the given paths (in a directory
 * given, or in a file's directory), else none.
 */
export async function findLedger(explicit: string | undefined, near: string[], options: OpenLedgerOptions = {}): Promise<Ledger | undefined> {
  // A command waits out a locked file or a restarting server for a while, then says so.
  const open = async (where: string) => retryingLedger(await openLedger(where, options), { giveUpAfterMs: 30_000 });
  if (explicit !== undefined) return open(explicit);
  for (const path of near) {
    if (looksLikeUrl(path)) continue;
    const dir = existsSync(path) && statSync(path).isDirectory() ? path : dirname(path);
    const candidate = join(dir, DEFAULT_LEDGER_NAME);
    if (existsSync(candidate)) return open(candidate);
  }
  return undefined;
}

const BATCH = 5000;
const FLUSH_AT = 1 << 16;

export class ConsolidationRecord {
  private readonly dir = mkdtempSync(join(tmpdir(), "swtool-consolidate-"));
  private readonly fd = openSync(join(this.dir, "written.tsv"), "w+", 0o600);
  private pending = "";
  private size = 0;

  /** A pass starts again: forget what the previous one wrote. */
  reset(): void {
    this.pending = "";
    this.size = 0;
    ftruncateSync(this.fd, 0);
  }

  add(smsn: string, path: string): void {
    this.pending += `${smsn}\t${resolve(path)}\n`;
    if (this.pending.length >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    const data = Buffer.from(this.pending, "utf8");
    writeAllSync(this.fd, data, this.size);
    this.size += data.length;
    this.pending = "";
  }

  /**
   * Publishes the consolidated file (`publish` names it) inside one ledger transaction that
   * then marks every spooled log as consolidated into it: the lock is taken before the file
   * appears, and a failure rolls the marks back (the publisher then removes the file). A crash
   * between the name and the commit leaves a file with no marks: its devices are consolidated
   * again next time (a duplicate at Amazon, never a device in no file). Returns how many.
   */
  publishAndMark(ledger: Ledger, publish: () => Promise<string>): Promise<number> {
    return ledger.transaction(async (tx) => this.replay(tx, await publish()));
  }

  private async replay(ledger: Ledger, batchPath: string): Promise<number> {
    this.flush();
    const target = resolve(batchPath);
    const chunk = Buffer.allocUnsafe(1 << 20);
    let position = 0;
    let rest = "";
    let batch: { smsn: string; path: string }[] = [];
    let count = 0;
    const send = async () => {
      await ledger.markLogsConsolidated(batch, target);
      count += batch.length;
      batch = [];
    };
    for (;;) {
      const n = readSync(this.fd, chunk, 0, chunk.length, position);
      if (n === 0) break;
      position += n;
      const lines = (rest + chunk.toString("utf8", 0, n)).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const tab = line.indexOf("\t");
        batch.push({ smsn: line.slice(0, tab), path: line.slice(tab + 1) });
        if (batch.length >= BATCH) await send();
      }
    }
    if (batch.length) await send();
    return count;
  }

  dispose(): void {
    closeSync(this.fd);
    removeScratchDir(this.dir);
  }
}
