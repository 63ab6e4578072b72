// A short run of the parser fuzzer (bench/fuzz.ts runs 100,000 inputs): no uncaught exception.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { REPO } from "../helpers/vectors.ts";

test("parsers refuse 5,000 random and mutated inputs with swtool errors only", () => {
  const proc = Bun.spawnSync([process.execPath, join(REPO, "bench", "fuzz.ts"), "5000"], { stdout: "pipe", stderr: "pipe" });
  const out = proc.stdout.toString();
  expect(out).toContain("fuzz: no uncaught exception (target: none)");
  expect(proc.exitCode).toBe(0);
});
