// One home for the tests' scratch directories: a fresh one under the system's temp directory,
// named after what uses it (`swtool-<name>-XXXXXX`).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function tempDir(name = "line"): string {
  return mkdtempSync(join(tmpdir(), `swtool-${name.replace(/^swtool-|-$/g, "")}-`));
}
