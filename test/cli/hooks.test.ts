// Device hooks: the record on stdin, a failure or a hang reported (never thrown), the run
// waiting for the last ones.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hookRunner } from "../../src/cli/hooks.ts";
import { tempDir } from "../device/station.ts";

describe("hooks", () => {
  test("stdin carries the record; exit codes and timeouts are reported, settle() waits", async () => {
    const dir = tempDir();
    const failures: [string, string][] = [];
    const hooks = hookRunner((command, record, error) => failures.push([String(record.dsn), error]), 300);
    hooks.run(`cat > '${join(dir, "in.json")}'`, { type: "device-done", dsn: "SN1" });
    hooks.run("echo no paper >&2; exit 4", { type: "device-done", dsn: "SN2" });
    hooks.run("sleep 5", { type: "device-done", dsn: "SN3" });
    const t0 = Date.now();
    await hooks.settle();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(JSON.parse(readFileSync(join(dir, "in.json"), "utf8"))).toEqual({ type: "device-done", dsn: "SN1" });
    expect(failures.sort()).toEqual([
      ["SN2", "exit 4: no paper"],
      ["SN3", "no end within 0.3 s (killed)"],
    ]);
  });
});
