// Publishing a file so that readers see all of it or nothing, and never an overwrite: the data
// goes to a hidden temporary file in the target directory, is fsynced, then hard-linked to the
// first free name (link(2) fails with EEXIST instead of replacing, so two processes can never
// take the same name), the temporary is removed and the directory fsynced. A crash leaves at
// most a hidden `.swtool-*.tmp` file, never a partial file under the final name.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { SwtoolError } from "./errors.ts";

/** The name to try for attempt `copy` (1, 2, 3, ...). */
export type NameFor = (copy: number) => string;

/** Gives up after this many taken names: something is wrong with the directory, not busy. */
const MAX_COPIES = 10_000;

/** Filesystems without hard links (FAT, some network shares) answer link(2) with these. */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

export function temporaryPath(dir: string): string {
  return join(dir, `.swtool-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

function failed(what: string, path: string, e: unknown): SwtoolError {
  return new SwtoolError(`cannot ${what} ${path}: ${(e as Error).message}`, {
    cause: e,
    advice: "check that the directory exists, is writable and has free space",
  });
}

function tooMany(dir: string, nameFor: NameFor): SwtoolError {
  return new SwtoolError(`no free file name in ${dir}: ${nameFor(1)} and ${MAX_COPIES - 1} numbered copies all exist`, {
    advice: "move the old files away",
  });
}

function fsyncDirSync(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch (e) {
    // Windows cannot open a directory; NTFS journals the rename itself.
    if (process.platform === "win32") return;
    throw failed("open directory", dir, e);
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, "r");
  } catch (e) {
    if (process.platform === "win32") return;
    throw failed("open directory", dir, e);
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves the finished temporary file to the first free name. `exclusive: false` (only for an
 * explicit output path the operator named) is not offered: every caller wants no overwrite.
 */
function claimNameSync(dir: string, tmp: string, nameFor: NameFor): string {
  for (let copy = 1; copy < MAX_COPIES; copy++) {
    const target = join(dir, nameFor(copy));
    try {
      linkSync(tmp, target);
      unlinkSync(tmp);
      return target;
    } catch (e) {
      if (code(e) === "EEXIST") continue;
      if (!NO_HARD_LINKS.has(code(e) ?? "")) throw failed("create", target, e);
      // No hard links here: reserve the name with an exclusive empty file, then rename over it
      // (atomic replace of our own placeholder; a crash in between leaves an empty file).
      try {
        closeSync(openSync(target, "wx"));
      } catch (e2) {
        if (code(e2) === "EEXIST") continue;
        throw failed("create", target, e2);
      }
      renameSync(tmp, target);
      return target;
    }
  }
  throw tooMany(dir, nameFor);
}

async function claimName(dir: string, tmp: string, nameFor: NameFor): Promise<string> {
  for (let copy = 1; copy < MAX_COPIES; copy++) {
    const target = join(dir, nameFor(copy));
    try {
      await link(tmp, target);
      await unlink(tmp);
      return target;
    } catch (e) {
      if (code(e) === "EEXIST") continue;
      if (!NO_HARD_LINKS.has(code(e) ?? "")) throw failed("create", target, e);
      try {
        await (await open(target, "wx")).close();
      } catch (e2) {
        if (code(e2) === "EEXIST") continue;
        throw failed("create", target, e2);
      }
      await rename(tmp, target);
      return target;
    }
  }
  throw tooMany(dir, nameFor);
}

/** Writes `data` to a new file in `dir` named by `nameFor`; returns its path. */
export function publishFileSync(dir: string, nameFor: NameFor, data: string | Uint8Array, mode = 0o644): string {
  const tmp = temporaryPath(dir);
  let fd: number;
  try {
    fd = openSync(tmp, "wx", mode);
  } catch (e) {
    throw failed("create a file in", dir, e);
  }
  try {
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const target = claimNameSync(dir, tmp, nameFor);
    fsyncDirSync(dir);
    return target;
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // already linked and removed, or never written
    }
    if (e instanceof SwtoolError) throw e;
    throw failed("write", tmp, e);
  }
}

/**
 * Streams a new file into `dir`: `write` receives the open temporary file; once it returns the
 * file is fsynced and published under the first free name from `nameFor`.
 */
export async function publishFile(dir: string, nameFor: NameFor, write: (file: FileHandle) => Promise<void>): Promise<string> {
  const tmp = temporaryPath(dir);
  let handle: FileHandle;
  try {
    handle = await open(tmp, "wx", 0o644);
  } catch (e) {
    throw failed("create a file in", dir, e);
  }
  try {
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const target = await claimName(dir, tmp, nameFor);
    await fsyncDir(dir);
    return target;
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof SwtoolError) throw e;
    throw failed("write", tmp, e);
  }
}

/** A `NameFor` that allows only one name (an explicit output path: refuse rather than rename). */
export function exactName(path: string): NameFor {
  const name = basename(path);
  return (copy) => {
    if (copy > 1) {
      throw new SwtoolError(`${path} already exists`, { advice: "choose another output name, or move the old file away first" });
    }
    return name;
  };
}

/**
 * Replaces `path` whole (temporary file, fsync, rename over it): for outputs the operator named
 * and a line script rewrites per device (`sign -o out.json`), where the reference overwrites too.
 */
export function replaceFileSync(path: string, data: string | Uint8Array, mode = 0o644): string {
  const dir = dirname(path) || ".";
  const tmp = temporaryPath(dir);
  try {
    const fd = openSync(tmp, "wx", mode);
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data, "utf8") : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncDirSync(dir);
    return path;
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
    throw failed("write", path, e);
  }
}
