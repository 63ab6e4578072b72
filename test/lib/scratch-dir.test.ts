import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onScratchDirLeft, removeScratchDir } from "../../src/lib/scratch-dir.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

describe("removeScratchDir", () => {
  test("removes the files, then the directory", () => {
    const dir = scratchDir("scratch");
    writeFileSync(join(dir, "index.db"), "x");
    writeFileSync(join(dir, "written.tsv"), "y");
    expect(removeScratchDir(dir)).toBe(true);
    expect(existsSync(dir)).toBe(false);
  });

  test("a directory already gone counts as removed", () => {
    expect(removeScratchDir(join(tmpdir(), "swtool-scratch-never-made"))).toBe(true);
  });

  test("what it cannot remove (a subdirectory) is left, and it says so without throwing", () => {
    const dir = scratchDir("scratch");
    mkdirSync(join(dir, "sub"));
    const left: string[][] = [];
    onScratchDirLeft((d, problem) => left.push([d, problem]));
    try {
      expect(removeScratchDir(dir)).toBe(false);
    } finally {
      onScratchDirLeft(() => undefined);
    }
    expect(existsSync(join(dir, "sub"))).toBe(true);
    // Told, so the CLI can log it (a leak into Temp would otherwise go unseen).
    expect(left).toEqual([[dir, "EISDIR after 1 attempt"]]);
  });
});
