// Writing the PKI's files: each file appears whole or not at all (the publisher's temporary
// file, checked writes, fsync, rename), private keys are created 0600 from the first byte, and nothing is overwritten
// unless asked, since overwriting a CA key would orphan every client certificate.
import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";
import { writeOutputSync } from "../lib/atomic.ts";

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
  // Overwrites only with --force, which checkNoOverwrite has already allowed.
  const path = writeOutputSync(file.path, file.content, { replace: true, mode: file.mode });
  // The umask may have narrowed a public file; a key is created 0600 and never widened.
  if (file.mode !== SECRET_MODE && path !== "-") chmodSync(path, file.mode);
}
