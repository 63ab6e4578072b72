// swtool consolidate end to end (compiled binary): output in the current directory, its path
// printed last; problems listed with path and reason; exit codes; --json summary.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { swtool } from "../helpers/cli.ts";
import { makeEntry, makeTestLine, writeLogFile } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("conscli");
let entries: ControlLogEntry[];
beforeAll(async () => {
  const line = makeTestLine();
  entries = [await makeEntry(line), await makeEntry(line), await makeEntry(line, "ab12")];
});

describe("swtool consolidate", () => {
  test("writes C_CONTROL_LOG_<time>.txt in the current directory and prints its path last", async () => {
    const logs = tempDir();
    entries.forEach((e, i) => writeLogFile(logs, `C_CONTROL_LOG_2026112100000${i}.txt`, [e]));
    const cwd = tempDir();
    const r = await swtool(["consolidate", logs], { cwd });
    expect(r.code).toBe(0);
    const written = readdirSync(cwd);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^C_CONTROL_LOG_\d{14}\.txt$/);
    expect(r.stdout).toBe(`${written[0]}\n`);
    expect(r.stderr).toContain("read 3 files, 3 entries: 3 devices, 0 duplicates merged, 0 invalid, 0 conflicts");
    expect(r.stderr).toContain("APID pd25: 2 devices");
    expect(parseControlLog(readFileSync(join(cwd, written[0]!), "utf8"))).toHaveLength(3);
  });

  test("an invalid log: listed with its path and reason, nothing written, exit 1; --skip-invalid writes the rest", async () => {
    const logs = tempDir();
    writeLogFile(logs, "C_CONTROL_LOG_20261121000001.txt", [entries[0]!]);
    const bad = join(logs, "C_CONTROL_LOG_20261121000002.txt");
    writeFileSync(bad, "{ not json");
    const cwd = tempDir();
    const strict = await swtool(["consolidate", logs], { cwd });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain(`invalid: ${bad}: control log: not valid JSON`);
    expect(strict.stderr).toContain("error: nothing written: 1 invalid entries or files and 0 conflicting SMSNs");
    expect(readdirSync(cwd)).toEqual([]);
    const out = join(cwd, "shift.txt");
    const lenient = await swtool(["consolidate", logs, "--skip-invalid", "-o", out, "--json"], { cwd });
    expect(lenient.code).toBe(0);
    const summary = JSON.parse(lenient.stdout);
    expect(summary).toMatchObject({ ok: true, output: out, devices: 1, invalid: 1 });
    expect(summary.problems[0]).toMatchObject({ kind: "invalid", path: bad });
    expect(parseControlLog(readFileSync(out, "utf8"))).toEqual([entries[0]!]);
  });

  test("nothing found is a usage error", async () => {
    const r = await swtool(["consolidate", tempDir()], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: no control logs found");
  });
});
