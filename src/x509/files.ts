// Output files of every CA swtool runs (`swtool x509`, `swtool pki`): never overwritten by
// accident (a replaced CA key orphans every certificate it issued), private keys owner-only
// from the first byte, each file complete or absent, and a set (a CA key and its certificate)
// whole or not at all (the publisher in lib/atomic.ts).
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";
import { checkOutputPath, OutputError, OutputExistsError, publishFileSetSync, writeOutputSync } from "../lib/atomic.ts";

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
/** Directories made for key files: only the owner may list them. */
export const PRIVATE_DIR_MODE = 0o700;

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
}

/** Refuses when any of the files exists (unless `force`), before anything is written. */
export function checkNoOverwrite(paths: readonly string[], force: boolean): void {
  if (force) return;
  const existing = paths.filter((p) => existsSync(p));
  if (existing.length) {
    throw new SwtoolError(`refusing to overwrite ${existing.join(", ")}`, {
      advice: "choose another --out directory, or add --force if replacing these files is intended (certificates issued by a replaced CA stop working)",
    });
  }
}

/** Writes a set of files checked with checkNoOverwrite (so replacing is what was asked), all or nothing (publishFileSetSync). */
export function writePlannedFiles(files: readonly PlannedFile[]): void {
  for (const file of files) mkdirSync(dirname(file.path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const paths = publishFileSetSync(files.map((file) => ({ path: file.path, data: file.content, mode: file.mode, replace: true })));
  // The umask may have narrowed a public file; a key is created 0600 and never widened.
  files.forEach((file, i) => file.mode !== SECRET_MODE && chmodSync(paths[i]!, file.mode));
}

/** New files written as one set, all or nothing (publishFileSetSync), each refused if it exists unless `force`. */
export function writeNewFiles(files: readonly { path: string; data: string | Uint8Array; secret?: boolean }[], options: { force?: boolean } = {}): void {
  for (const file of files) makeDirectoryOf(file.path);
  try {
    publishFileSetSync(
      files.map((file) => ({ path: file.path, data: file.data, mode: file.secret ? SECRET_MODE : PUBLIC_MODE, replace: options.force ?? false })),
      "--out",
    );
  } catch (error) {
    if (error instanceof OutputExistsError) throw new OutputExistsError(error.message, { advice: FORCE_ADVICE });
    throw error;
  }
}

function makeDirectoryOf(path: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new OutputError(`cannot create the directory ${dirname(path)}: ${(error as Error).message}`, { cause: error });
  }
}

const FORCE_ADVICE = "choose another path, or add --force to replace it";

/** Pre-flight for writeNewFile, before a CA key (perhaps in the HSM) signs anything. */
export function checkNewFile(path: string, options: { force?: boolean; flag?: string } = {}): void {
  const flag = options.flag ?? "--out";
  try {
    checkOutputPath(path, { replace: options.force ?? false, flag });
  } catch (error) {
    if (error instanceof OutputExistsError) throw new OutputExistsError(error.message, { advice: FORCE_ADVICE });
    throw error;
  }
}

/** One new file: refused if it exists unless `force`. */
export function writeNewFile(path: string, data: string | Uint8Array, options: { force?: boolean; secret?: boolean } = {}): void {
  makeDirectoryOf(path);
  try {
    writeOutputSync(path, data, { replace: options.force ?? false, mode: options.secret ? SECRET_MODE : PUBLIC_MODE });
  } catch (error) {
    if (error instanceof OutputExistsError) throw new OutputExistsError(error.message, { advice: FORCE_ADVICE });
    throw error;
  }
}
