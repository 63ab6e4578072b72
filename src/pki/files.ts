// Writing the PKI's files: each file appears whole or not at all (temporary file, fsync,
// rename), private keys are created 0600 from the first byte, and nothing is overwritten
// unless asked, since overwriting a CA key would orphan every client certificate.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, chmodSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { SwtoolError } from "../lib/errors.ts";

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;

export interface PlannedFile {
  path: string;
  content: string;
  mode: number;
}

/** Refuses when any of the files exists (unless `force`), before anything is written. */
export function checkNoOverwrite(files: readonly PlannedFile[], force: boolean): void {
  if (force) return;
  const existing = files.filter((f) => existsSync(f.path)).map((f) => f.path);
  if (existing.length) {
    throw new SwtoolError(`refusing to overwrite ${existing.join(", ")}`, {
      advice: "choose another --out directory, or add --force if replacing these files is intended (certificates issued by a replaced CA stop working)",
    });
  }
}

export function writeAtomic(file: PlannedFile): void {
  mkdirSync(dirname(file.path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "wx", file.mode);
  try {
    writeSync(fd, file.content);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, file.mode); // the umask may have narrowed a public file; never widens a key
  renameSync(tmp, file.path);
  const dirFd = openSync(dirname(file.path), "r");
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}
