// Removing a private scratch directory (consolidate's SMSN index and ledger spool): its files
// one by one, then the directory. Not rmSync({ recursive }): under Wine 8, Bun's recursive
// remove fails with EFAULT even on an empty directory (it uses an NT call Wine lacks), while
// unlink and rmdir work; on Windows and POSIX alike this is what the recursive remove does for
// a flat directory. On Windows a file still open without FILE_SHARE_DELETE (a SQLite database
// not yet closed) cannot be deleted (EBUSY/EPERM), and one open with it stays "delete pending"
// so rmdir says ENOTEMPTY: callers close everything first, and a virus scanner holding a file
// for a moment gets a few short retries.
import { readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { join } from "node:path";

const TRANSIENT = new Set(["EBUSY", "EPERM", "EACCES", "ENOTEMPTY"]);
const ATTEMPTS = 5;
const RETRY_MS = 40;

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? "";
const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Told when a scratch directory stays behind (the CLI logs it at debug level): a leak must not go unseen. */
let left: (dir: string, problem: string) => void = () => undefined;
export function onScratchDirLeft(report: (dir: string, problem: string) => void): void {
  left = report;
}

/** Removes `dir` and the files in it; true when it is gone. Never throws. */
export function removeScratchDir(dir: string): boolean {
  for (let attempt = 1; ; attempt++) {
    try {
      for (const name of readdirSync(dir)) unlinkSync(join(dir, name));
      rmdirSync(dir);
      return true;
    } catch (e) {
      if (code(e) === "ENOENT") return true;
      if (!TRANSIENT.has(code(e)) || attempt === ATTEMPTS) {
        left(dir, `${code(e) || (e as Error).message} after ${attempt} attempt${attempt === 1 ? "" : "s"}`);
        return false;
      }
      pause(RETRY_MS * attempt);
    }
  }
}
