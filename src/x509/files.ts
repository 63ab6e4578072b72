// Output files of `swtool x509`: never overwrite by accident, private keys owner-only, each
// file complete or absent (see the publisher in lib/atomic.ts).
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { OutputError, OutputExistsError, writeOutputSync } from "../lib/atomic.ts";

export function writeNewFile(path: string, data: string | Uint8Array, options: { force?: boolean; secret?: boolean } = {}): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw new OutputError(`cannot create the directory ${dirname(path)}: ${(error as Error).message}`, { cause: error });
  }
  try {
    writeOutputSync(path, data, { replace: options.force ?? false, mode: options.secret ? 0o600 : 0o644 });
  } catch (error) {
    if (error instanceof OutputExistsError) throw new OutputExistsError(error.message, { advice: "choose another path, or add --force to replace it" });
    throw error;
  }
}
