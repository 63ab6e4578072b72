// Output files of `swtool x509`: never overwrite by accident, private keys owner-only.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError } from "../lib/errors.ts";

export function writeNewFile(path: string, data: string | Uint8Array, options: { force?: boolean; secret?: boolean } = {}): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, data, { flag: options.force ? "w" : "wx", mode: options.secret ? 0o600 : 0o644 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new SwtoolError(`${path} already exists`, { advice: "choose another path, or add --force to replace it" });
    }
    throw new SwtoolError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
  }
}
