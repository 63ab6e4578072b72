// `-o -` and device nodes for the control-log commands: consolidate and import-csv write the
// whole document to stdout or into the device, never replace it, and consolidate leaves the
// ledger unmarked when there is no file to name.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { swtool } from "../helpers/cli.ts";
import { makeNullDevice } from "../helpers/disk.ts";
import { makeEntry, makeTestLine, writeLogFile } from "../controllog/fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("outputs");
let entries: ControlLogEntry[];
let logs: string;
let ledgerPath: string;
beforeAll(async () => {
  const line = makeTestLine();
  entries = [await makeEntry(line), await makeEntry(line)];
  logs = tempDir();
  ledgerPath = join(logs, "swtool.db");
  const ledger = await openLedger(ledgerPath);
  for (const [i, e] of entries.entries()) await ledger.recordControlLog(writeLogFile(logs, `C_CONTROL_LOG_2026112100000${i}.txt`, [e]), e.serialNumber);
  await ledger.close();
});

const pending = async () => {
  const ledger = await openLedger(ledgerPath);
  try {
    return (await ledger.pendingControlLogs()).length;
  } finally {
    await ledger.close();
  }
};

describe("-o - and device nodes", () => {
  test("consolidate -o - prints the consolidated log and nothing else on stdout; the ledger is not marked", async () => {
    const r = await swtool(["consolidate", logs, "-o", "-"]);
    expect(r.code).toBe(0);
    expect(parseControlLog(r.stdout)).toEqual(entries);
    expect(r.stderr).toContain(`- is not a file: the ledger ${ledgerPath} does not record these devices as consolidated\n`);
    expect(await pending()).toBe(2);
  });

  test("import-csv -o - prints the CSV", async () => {
    const r = await swtool(["import-csv", "--from", logs, "-o", "-"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(["smsn", ...entries.map((e) => e.serialNumber)].join("\r\n") + "\r\n");
  });

  test("ledger --csv -o: written whole, never over an existing file", async () => {
    const out = join(tempDir(), "attempts.csv");
    const first = await swtool(["ledger", "--ledger", ledgerPath, "--csv", "-o", out]);
    expect(first.code).toBe(0);
    expect(readFileSync(out, "utf8").split("\n")[0]).toStartWith("id,startedAt,finishedAt,port,dsn,smsn");
    expect(await swtool(["ledger", "--ledger", ledgerPath, "--csv", "-o", out])).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: -o ${out} already exists\n  fix: choose another output name, or move the old file away first\n`,
    });
  });

  test("a device node as -o stays a device node", async () => {
    const node = join(tempDir(), "null");
    if (!makeNullDevice(node)) return;
    expect((await swtool(["consolidate", logs, "-o", node])).code).toBe(0);
    expect((await swtool(["import-csv", "--from", logs, "-o", node])).code).toBe(0);
    expect(statSync(node).isCharacterDevice()).toBe(true);
    expect(await pending()).toBe(2);
  });
});
