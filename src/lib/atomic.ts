// Publishing a file so that readers see all of it or nothing, and never an overwrite: the data
// goes to a hidden temporary file in the target directory, is fsynced, then hard-linked to the
// first free name (link(2) fails with EEXIST instead of replacing, so two processes can never
// take the same name), the temporary is removed and the directory fsynced. A crash leaves at
// most a hidden `.swtool-*.tmp` file, never a partial file under the final name. On Windows the
// name is claimed by a write-through move that refuses an existing name, private files get an
// owner-only ACL, and there is no directory fsync (win32-files.ts says why).
//
// Every byte count is checked (writeAll): Bun's write() returns a short count, with no error,
// when the disk fills. Explicit output paths (writeOutput*) are published so only when they
// name a regular file or nothing: `-` is stdout, and an existing device, FIFO or descriptor
// (`/dev/null`, `/dev/stdout`, a symlink to one) is written into, never renamed over.
import { randomBytes } from "node:crypto";
import { accessSync, closeSync, mkdirSync, constants, fsyncSync, linkSync, lstatSync, openSync, readlinkSync, realpathSync, renameSync, statfsSync, statSync, unlinkSync, writeSync } from "node:fs";
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SwtoolError } from "./errors.ts";
import { accessProblem, moveNoReplace, moveReplace, restrictToCurrentUser } from "./win32-files.ts";

const windows = process.platform === "win32";

/** The name to try for attempt `copy` (1, 2, 3, ...). */
export type NameFor = (copy: number) => string;

/** Where a streaming writer puts its data: each write returns once every byte is written, or throws. */
export interface OutputSink {
  write(data: string | Uint8Array): Promise<void>;
}

/** A file that cannot be written where it was asked for (full disk, missing directory, ...). */
export class OutputError extends SwtoolError {}

/** An output that must not replace a file that is already there. */
export class OutputExistsError extends OutputError {}

/** Gives up after this many taken names: something is wrong with the directory, not busy. */
const MAX_COPIES = 10_000;

/** Filesystems without hard links (FAT, some network shares) answer link(2) with these. */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS", "EXDEV"]);

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;
const bytesOf = (data: string | Uint8Array) => (typeof data === "string" ? Buffer.from(data, "utf8") : data);

export function temporaryPath(dir: string): string {
  return join(dir, `.swtool-${process.pid}-${randomBytes(6).toString("hex")}.tmp`);
}

function reason(e: unknown): string {
  switch (code(e)) {
    case "ENOSPC":
      return "the disk is full";
    case "EDQUOT":
      return "the disk quota is used up";
    case "EROFS":
      return "the file system is read-only";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ENOENT":
      return "no such directory";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    case "EISDIR":
      return "it is a directory";
    default:
      return (e as Error).message;
  }
}

function failed(what: string, path: string, e: unknown): OutputError {
  const full = code(e) === "ENOSPC" || code(e) === "EDQUOT";
  return new OutputError(`cannot ${what} ${path}: ${reason(e)}`, {
    cause: e,
    advice: full ? "free space on that disk, or write to another one" : "check that the directory exists, is writable and has free space",
  });
}

function tooMany(dir: string, nameFor: NameFor): SwtoolError {
  return new OutputError(`no free file name in ${dir}: ${nameFor(1)} and ${MAX_COPIES - 1} numbered copies all exist`, {
    advice: "move the old files away",
  });
}

/** A write that made no progress: the disk filled (Bun reports this as a short count, not ENOSPC). */
function shortWrite(): NodeJS.ErrnoException {
  return Object.assign(new Error("short write"), { code: "ENOSPC" });
}

/** Writes every byte of `data` at the file's position (or at `position`), or throws. */
export function writeAllSync(fd: number, data: string | Uint8Array, position?: number): void {
  const buffer = bytesOf(data);
  for (let offset = 0; offset < buffer.length; ) {
    const n = writeSync(fd, buffer, offset, buffer.length - offset, position === undefined ? null : position + offset);
    if (n <= 0) throw shortWrite();
    offset += n;
  }
}

/** Writes every byte of `data` at the file's position, or throws. */
export async function writeAll(file: FileHandle, data: string | Uint8Array): Promise<void> {
  const buffer = bytesOf(data);
  for (let offset = 0; offset < buffer.length; ) {
    const { bytesWritten } = await file.write(buffer, offset, buffer.length - offset);
    if (bytesWritten <= 0) throw shortWrite();
    offset += bytesWritten;
  }
}

/** How a key-bearing file is protected, as read back from the file itself. */
export interface FileProtection {
  /** Only the current user can read it. */
  private: boolean;
  /** For output next to its path: "0600", "access: this user only", or what it has instead. */
  description: string;
}

/**
 * What protects `path` now (its mode on POSIX, its access list on Windows), read back rather
 * than assumed: an owner-only ACL can fail (FAT, Wine) and a mount can ignore modes, and output
 * that calls such a key private would be false.
 */
export function fileProtection(path: string): FileProtection {
  if (windows) {
    const problem = accessProblem(path);
    return problem ? { private: false, description: `NOT private: ${problem}` } : { private: true, description: "access: this user only" };
  }
  const mode = statSync(path).mode & 0o777;
  const octal = `0${mode.toString(8).padStart(3, "0")}`;
  return (mode & 0o077) === 0 ? { private: true, description: octal } : { private: false, description: `NOT private: mode ${octal}` };
}

/** Told when a file asked to be private could not be made so (Windows without ACLs); the CLI warns. */
let unprotected: (path: string, problem: string) => void = () => undefined;
export function onUnprotectedFile(report: (path: string, problem: string) => void): void {
  unprotected = report;
}

/**
 * A mode without group or other bits (0600) asks for a private file. On Windows, where modes are
 * not enforced, the empty temporary gets an owner-only ACL before any byte is written to it
 * (a move in the same directory keeps it).
 */
function makePrivateIfAsked(tmp: string, mode: number, final: string): void {
  if (!windows || (mode & 0o077) !== 0) return;
  const problem = restrictToCurrentUser(tmp);
  if (problem) unprotected(final, problem);
}

const sinkOf = (file: FileHandle): OutputSink => ({ write: (data) => writeAll(file, data) });

function fsyncDirSync(dir: string): void {
  // Windows: the write-through move is durable by itself; a directory cannot be flushed.
  if (windows) return;
  let fd: number;
  try {
    fd = openSync(dir, "r");
  } catch (e) {
    throw failed("open directory", dir, e);
  }
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  if (windows) return;
  let handle: FileHandle;
  try {
    handle = await open(dir, "r");
  } catch (e) {
    throw failed("open directory", dir, e);
  }
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Moves the finished temporary file to the first free name (never over an existing file). */
function claimNameSync(dir: string, tmp: string, nameFor: NameFor): string {
  for (let copy = 1; copy < MAX_COPIES; copy++) {
    const target = join(dir, nameFor(copy));
    try {
      if (windows) {
        moveNoReplace(tmp, target);
        return target;
      }
      linkSync(tmp, target);
      unlinkSync(tmp);
      return target;
    } catch (e) {
      if (code(e) === "EEXIST") continue;
      if (windows || !NO_HARD_LINKS.has(code(e) ?? "")) throw failed("create", target, e);
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
      makePrivateIfAsked(tmp, mode, join(dir, nameFor(1)));
      writeAllSync(fd, data);
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
    throw failed("write", join(dir, nameFor(1)), e);
  }
}

export interface PublishOptions {
  /** File mode (default 0644; 0600 for anything holding a private key). */
  mode?: number;
  /**
   * Wraps the moment the complete file takes its final name: `publish` names it and returns
   * the path. The ledger calls it inside its transaction, once the lock is held and before the
   * marks and the commit, so a locked ledger leaves no file at all; if `within` throws, the file
   * is removed again.
   */
  within?: (publish: () => Promise<string>) => Promise<unknown>;
}

/**
 * Streams a new file into `dir`: `write` receives a sink on the temporary file; once it returns
 * the file is fsynced and published under the first free name from `nameFor`.
 */
export async function publishFile(dir: string, nameFor: NameFor, write: (out: OutputSink) => Promise<void>, options: PublishOptions = {}): Promise<string> {
  const tmp = temporaryPath(dir);
  let handle: FileHandle;
  try {
    handle = await open(tmp, "wx", options.mode ?? 0o644);
  } catch (e) {
    throw failed("create a file in", dir, e);
  }
  let target: string | undefined;
  try {
    try {
      makePrivateIfAsked(tmp, options.mode ?? 0o644, join(dir, nameFor(1)));
      await write(sinkOf(handle));
      await handle.sync();
    } finally {
      await handle.close();
    }
    // Claiming the name is a few quick syscalls (link, unlink): the async path uses the same code.
    const publish = async () => (target = claimNameSync(dir, tmp, nameFor));
    if (options.within) await options.within(publish);
    await fsyncDir(dir);
    return target ?? (await publish());
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (target !== undefined) await unlink(target).catch(() => undefined);
    if (e instanceof SwtoolError) throw e;
    throw failed("write", join(dir, nameFor(1)), e);
  }
}

/** A `NameFor` that allows only one name (an explicit output path: refuse rather than rename). */
export function exactName(path: string): NameFor {
  const name = basename(path);
  return (copy) => {
    if (copy > 1) {
      throw new OutputExistsError(`${path} already exists`, { advice: "choose another output name, or move the old file away first" });
    }
    return name;
  };
}

/**
 * Replaces `path` whole (temporary file, fsync, rename over it): for outputs the operator named
 * and a line script rewrites per device (`sign -o out.json`), where the reference overwrites too.
 * Only for regular files: see writeOutputSync.
 */
export function replaceFileSync(path: string, data: string | Uint8Array, mode = 0o644): string {
  const dir = dirname(path) || ".";
  const tmp = temporaryPath(dir);
  try {
    const fd = openSync(tmp, "wx", mode);
    try {
      makePrivateIfAsked(tmp, mode, path);
      writeAllSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (windows) moveReplace(tmp, path);
    else renameSync(tmp, path);
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

/** One file of a set published together (publishFileSetSync). */
export interface SetFile {
  path: string;
  data: string | Uint8Array;
  /** File mode (default 0644; 0600 for a key). */
  mode?: number;
  /** Replace an existing regular file (default: refuse it). */
  replace?: boolean;
}

/**
 * Publishes files that only work together (a CA key and its certificate) all or nothing. Every
 * temporary is written and fsynced first, which is where a full disk or a failing write stops
 * it, with the old files untouched; then each takes its name. If one cannot, the ones already
 * placed are undone: a replaced file comes back from a hard link made before (a rename on
 * Windows and on file systems without links), a new one is removed. Only a crash during those
 * few renames can still leave a mix. Targets must be regular files or nothing; returns their paths.
 */
export function publishFileSetSync(files: readonly SetFile[], flag = "-o"): string[] {
  const targets = files.map((file) => {
    if (isDirectory(file.path)) throw new OutputError(`cannot write ${file.path}: it is a directory`, { advice: "move it out of the way, or choose another folder" });
    const target = outputTarget(file.path, flag);
    if (target.kind !== "file") throw new OutputError(`${file.path} is not a regular file`, { advice: "give a path to a file, or to nothing yet" });
    if (!file.replace && lstatExists(target.path)) throw new OutputExistsError(`${file.path} already exists`, { advice: "choose another output name, or move the old file away first" });
    return target.path;
  });
  const temps: string[] = [];
  const removeTemps = () => temps.forEach((tmp) => rmSyncQuiet(tmp));
  files.forEach((file, i) => {
    const target = targets[i]!;
    const tmp = temporaryPath(dirname(target));
    const mode = file.mode ?? 0o644;
    try {
      const fd = openSync(tmp, "wx", mode);
      temps.push(tmp);
      try {
        makePrivateIfAsked(tmp, mode, target);
        writeAllSync(fd, file.data);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      removeTemps();
      throw failed("write", target, e);
    }
  });
  // Each placed file, with where its predecessor waits until the whole set is in place.
  const placed: { target: string; backup?: string; backupMoved?: boolean }[] = [];
  try {
    files.forEach((file, i) => {
      const target = targets[i]!;
      const tmp = temps[i]!;
      const dir = dirname(target);
      const step: (typeof placed)[number] = { target };
      if (file.replace && lstatExists(target)) {
        const backup = temporaryPath(dir);
        step.backupMoved = windows || !linkOrFalse(target, backup);
        if (step.backupMoved) {
          if (windows) moveNoReplace(target, backup);
          else renameSync(target, backup);
        }
        step.backup = backup;
      }
      try {
        if (!file.replace) claimNameSync(dir, tmp, exactName(target));
        else if (windows) moveReplace(tmp, target);
        else renameSync(tmp, target);
      } catch (e) {
        if (step.backupMoved) restore(step.backup!, target);
        else if (step.backup) rmSyncQuiet(step.backup);
        throw e;
      }
      placed.push(step);
    });
  } catch (e) {
    for (const step of placed.reverse()) {
      if (step.backup) restore(step.backup, step.target);
      else rmSyncQuiet(step.target);
    }
    removeTemps();
    if (e instanceof SwtoolError) throw e;
    throw failed("write", targets[placed.length] ?? targets[0]!, e);
  }
  for (const step of placed) if (step.backup) rmSyncQuiet(step.backup);
  for (const dir of new Set(targets.map((t) => dirname(t)))) fsyncDirSync(dir);
  return targets;
}

/** A hard link (the old file stays under its name until the new one replaces it); false where there are none. */
function linkOrFalse(from: string, to: string): boolean {
  try {
    linkSync(from, to);
    return true;
  } catch (e) {
    if (NO_HARD_LINKS.has(code(e) ?? "")) return false;
    throw e;
  }
}

/** Puts a set's old file back under its name (undoing a partly placed set). */
function restore(backup: string, target: string): void {
  if (windows) moveReplace(backup, target);
  else renameSync(backup, target);
}

function rmSyncQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone (linked and removed, or never made)
  }
}

// ---- Explicit output paths (-o FILE) ----

export type OutputTarget =
  /** `-` (stdout) or a path naming one of this process's descriptors (`/dev/stdout`, `/dev/fd/3`). */
  | { kind: "descriptor"; fd: number; path: string }
  /** An existing device or FIFO: written into as it is. */
  | { kind: "direct"; path: string }
  /** A regular file, or none yet: published atomically at `path` (a symlink's target). */
  | { kind: "file"; path: string };

/**
 * The descriptor `path` names, if following its symlinks reaches `/proc/self/fd/N` or
 * `/dev/fd/N` (as `/dev/stdout` does). Such a path is written to that descriptor: opening it
 * again fails for sockets, and renaming over it would replace the link in /dev.
 */
function descriptorOf(path: string): number | undefined {
  let p = resolve(path);
  for (let hops = 0; hops < 40; hops++) {
    const m = new RegExp(`^/(?:proc/(?:self|${process.pid})|dev)/fd/(\\d+)$`).exec(p);
    if (m) return Number(m[1]);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return undefined;
    }
    if (!st.isSymbolicLink()) return undefined;
    p = resolve(dirname(p), readlinkSync(p));
  }
  return undefined;
}

/** What writing to `path` means; refuses a directory. */
export function outputTarget(path: string, flag = "-o"): OutputTarget {
  if (path === "-") return { kind: "descriptor", fd: 1, path: "-" };
  if (path === "" || path.endsWith("/") || path.endsWith("\\")) {
    throw new OutputError(`${flag} ${JSON.stringify(path)} is not a file name`, { advice: `give ${flag} a file name, or - for standard output` });
  }
  const fd = process.platform === "win32" ? undefined : descriptorOf(path);
  if (fd !== undefined) return { kind: "descriptor", fd, path };
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if (code(e) === "ENOENT") return { kind: "file", path };
    throw failed("open", path, e);
  }
  if (st.isDirectory()) throw new OutputError(`${flag} ${path} is a directory`, { advice: `give ${flag} a file name inside it, e.g. ${join(path, "out.json")}` });
  if (!st.isFile()) return { kind: "direct", path };
  // Through a symlink, replace the file it points at and keep the link.
  return { kind: "file", path: lstatSync(path).isSymbolicLink() ? realpathSync(path) : path };
}
/**
 * Pre-flight for an output path, before any work that cannot be undone (an HSM signature):
 * not a directory, its directory exists and takes a new file, and, unless `replace`, no file
 * there yet. The directory is probed by creating and removing a temporary file, which also
 * catches read-only mounts and ACLs that access(2) does not see for root.
 */
export function checkOutputPath(path: string, options: { replace?: boolean; flag?: string } = {}): void {
  const flag = options.flag ?? "-o";
  const target = outputTarget(path, flag);
  if (target.kind === "descriptor") return;
  if (target.kind === "direct") {
    try {
      accessSync(target.path, constants.W_OK);
    } catch (e) {
      throw failed("write", target.path, e);
    }
    return;
  }
  if (!options.replace && lstatExists(target.path)) throw new OutputExistsError(`${flag} ${path} already exists`, { advice: "choose another output name, or move the old file away first" });
  checkDirectory(dirname(target.path), flag);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Pre-flight for an output directory (created first when asked): exists, is a directory, takes a new file. */
export function checkDirectory(dir: string, flag: string, options: { create?: boolean; mode?: number } = {}): void {
  if (options.create) {
    try {
      mkdirSync(dir, { recursive: true, ...(options.mode !== undefined ? { mode: options.mode } : {}) });
    } catch (e) {
      throw new OutputError(`${flag}: cannot create the directory ${dir}: ${reason(e)}`, { cause: e, advice: "give a directory that exists or can be created" });
    }
  }
  let st;
  try {
    st = statSync(dir);
  } catch (e) {
    if (code(e) === "ENOENT") throw new OutputError(`${flag}: the directory ${dir} does not exist`, { advice: "create it first, or give another path" });
    throw failed("open", dir, e);
  }
  if (!st.isDirectory()) throw new OutputError(`${flag}: ${dir} is not a directory`, { advice: "give a directory" });
  const probe = temporaryPath(dir);
  try {
    closeSync(openSync(probe, "wx", 0o600));
    unlinkSync(probe);
  } catch (e) {
    throw new OutputError(`${flag}: cannot create files in ${dir}: ${reason(e)}`, { cause: e, advice: "give a writable directory (check its permissions and that its disk is mounted read-write)" });
  }
  const free = freeBytes(dir);
  if (free !== undefined && free < MIN_FREE_BYTES) {
    throw new OutputError(`${flag}: the disk of ${dir} is full (${Math.floor(free / 1024)} KiB free)`, { advice: "free space on that disk, or write to another one" });
  }
}

/** Below this much free space a pre-flight refuses: a device's output and control log take a few KiB each. */
export const MIN_FREE_BYTES = 64 * 1024;

function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined; // not every file system reports it; the checked writes still catch a full disk
  }
}

export interface OutputOptions {
  mode?: number;
  /** Replace an existing regular file (default: refuse it). */
  replace?: boolean;
  flag?: string;
}

/** Writes a whole output to `path` (see outputTarget); returns where it went ("-" for stdout). */
export function writeOutputSync(path: string, data: string | Uint8Array, options: OutputOptions = {}): string {
  const target = outputTarget(path, options.flag);
  if (target.kind !== "file") {
    writeDirectSync(target, data);
    return target.path;
  }
  const mode = options.mode ?? 0o644;
  if (options.replace) return replaceFileSync(target.path, data, mode);
  return publishFileSync(dirname(target.path), exactName(target.path), data, mode);
}

/** Writes into a descriptor, an existing device or a FIFO: no temporary file, no rename. */
function writeDirectSync(target: Exclude<OutputTarget, { kind: "file" }>, data: string | Uint8Array): void {
  let fd: number;
  try {
    fd = target.kind === "descriptor" ? target.fd : openSync(target.path, "w");
  } catch (e) {
    throw failed("open", target.path, e);
  }
  try {
    writeAllSync(fd, data);
  } catch (e) {
    throw failed("write", target.kind === "descriptor" && target.fd === 1 ? "standard output" : target.path, e);
  } finally {
    if (target.kind !== "descriptor") closeSync(fd);
  }
}

/** Streams a new output to `path` (see outputTarget; never over a regular file); returns where it went ("-" for stdout). */
export async function writeOutput(path: string, write: (out: OutputSink) => Promise<void>, options: PublishOptions & { flag?: string } = {}): Promise<string> {
  const target = outputTarget(path, options.flag);
  if (target.kind === "file") return publishFile(dirname(target.path), exactName(target.path), write, options);
  if (target.kind === "descriptor") {
    await write({ write: async (data) => writeDirectSync(target, data) });
  } else {
    let handle: FileHandle;
    try {
      handle = await open(target.path, "w");
    } catch (e) {
      throw failed("open", target.path, e);
    }
    try {
      await write(sinkOf(handle));
    } catch (e) {
      if (e instanceof SwtoolError) throw e;
      throw failed("write", target.path, e);
    } finally {
      await handle.close();
    }
  }
  await options.within?.(async () => target.path);
  return target.path;
}
