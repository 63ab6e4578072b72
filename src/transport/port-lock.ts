// One program per fixture port, also for root (whom the kernel's TIOCEXCL does not stop): a
// UUCP-style lock file `LCK..<name>` holding the owner's pid as ten ASCII digits and a newline
// (the HDB UUCP form minicom, picocom and ModemManager honour), in /var/lock when it is
// writable, else in the temporary folder. A lock whose process is gone is stale and taken over.
// Windows needs none: the OS opens a COM port exclusively.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, unlinkSync, writeSync, accessSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwtoolError } from "../lib/errors.ts";

export interface PortLock {
  readonly path: string;
  release(): void;
}

function lockDir(): string {
  for (const dir of [process.env.SWTOOL_LOCK_DIR, "/var/lock", "/run/lock"]) {
    if (!dir) continue;
    try {
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // Not there or not ours to write: try the next.
    }
  }
  const dir = join(tmpdir(), "swtool-locks");
  mkdirSync(dir, { recursive: true, mode: 0o1777 });
  return dir;
}

/** `/dev/ttyUSB0` → `LCK..ttyUSB0`; `/dev/pts/3` → `LCK..pts_3` (the device the path leads to). */
export function lockName(port: string): string {
  let target = port;
  try {
    target = realpathSync(port);
  } catch {
    // Not there (yet): the open will say so.
  }
  return `LCK..${target.replace(/^\/dev\//, "").replace(/[/\\:]/g, "_")}`;
}

/** Locks this process holds now: a file naming this pid that is not here was left by an earlier open. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function lockPort(port: string): PortLock {
  if (process.platform === "win32") return { path: "", release: () => {} };
  const path = join(lockDir(), lockName(port));
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new SwtoolError(`cannot lock ${port}: ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { advice: "check the lock folder's permissions (or set SWTOOL_LOCK_DIR)" });
      }
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(path, "latin1").trim(), 10);
      } catch {
        // Gone meanwhile: try again.
      }
      if (Number.isInteger(owner) && owner > 0 && (owner === process.pid ? held.has(path) : alive(owner))) {
        throw new SwtoolError(`${port} is in use by process ${owner} (lock file ${path})`, {
          advice: owner === process.pid ? "each fixture port may be given once" : `stop that program (another swtool, a terminal) first; a lock left by a dead process is taken over by itself`,
        });
      }
      // Stale: its process is gone.
      try {
        unlinkSync(path);
      } catch {
        // Someone else took it over; the next attempt decides.
      }
      continue;
    }
    const text = `${String(process.pid).padStart(10)}\n`;
    try {
      if (writeSync(fd, text) !== text.length) throw new Error("short write");
    } finally {
      closeSync(fd);
    }
    let released = false;
    held.add(path);
    return {
      path,
      release() {
        if (released) return;
        released = true;
        held.delete(path);
        try {
          if (existsSync(path) && Number.parseInt(readFileSync(path, "latin1").trim(), 10) === process.pid) unlinkSync(path);
        } catch {
          // Best effort: a stale lock is taken over by the next start.
        }
      },
    };
  }
  throw new SwtoolError(`cannot lock ${port}: ${path} keeps changing`, { advice: "another program is fighting over the port; stop it" });
}
