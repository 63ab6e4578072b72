// consolidate --new-only and import-csv with the line's ledger (bun:sqlite), end to end.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { swtool } from "../helpers/cli.ts";
import { makeEntry, makeTestLine, writeLogFile } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("ledger");
let entries: ControlLogEntry[];
beforeAll(async () => {
  const line = makeTestLine();
  entries = [];
  for (let i = 0; i < 4; i++) entries.push(await makeEntry(line));
});

describe("consolidate with the ledger", () => {
  test("records which file holds each device; --new-only takes only the logs not consolidated before", async () => {
    const logs = tempDir();
    const ledgerPath = join(logs, "swtool.db");
    const ledger = await openLedger(ledgerPath);
    // The line recorded the first three logs as it wrote them (relative spelling on purpose).
    const paths = entries.slice(0, 3).map((e, i) => writeLogFile(logs, `C_CONTROL_LOG_2026112100000${i}.txt`, [e]));
    for (const [i, p] of paths.entries()) await ledger.recordControlLog(p.replace(logs, "./logs"), entries[i]!.serialNumber);
    await ledger.close();

    const cwd = tempDir();
    const first = await swtool(["consolidate", logs, "-o", join(cwd, "batch1.txt")], { cwd });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`ledger ${ledgerPath}: 3 devices recorded as in ${join(cwd, "batch1.txt")}`);

    writeLogFile(logs, "C_CONTROL_LOG_20261121000009.txt", [entries[3]!]);
    const second = await swtool(["consolidate", logs, "--new-only", "-o", join(cwd, "batch2.txt")], { cwd });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("3 entries left out: already consolidated (ledger)");
    expect(parseControlLog(readFileSync(join(cwd, "batch2.txt"), "utf8"))).toEqual([entries[3]!]);

    const third = await swtool(["consolidate", logs, "--new-only", "-o", join(cwd, "batch3.txt")], { cwd });
    expect(third.code).toBe(0);
    expect(third.stderr).toContain("nothing new to consolidate; no file written");
    expect(readdirSync(cwd).sort()).toEqual(["batch1.txt", "batch2.txt"]);

    const check = await openLedger(ledgerPath);
    expect((await check.devicesIn(join(cwd, "batch1.txt")))).toEqual(entries.slice(0, 3).map((e) => e.serialNumber).sort());
    expect((await check.devicesIn(join(cwd, "batch2.txt")))).toEqual([entries[3]!.serialNumber]);
    expect((await check.pendingControlLogs())).toEqual([]);
    await check.close();
  });

  test("--new-only without a ledger is a usage error", async () => {
    const r = await swtool(["consolidate", tempDir(), "--new-only"], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: --new-only needs the ledger");
  });
});

describe("swtool import-csv", () => {
  test("from control logs: header smsn, each device once", async () => {
    const logs = tempDir();
    writeLogFile(logs, "C_CONTROL_LOG_20261121000001.txt", [entries[0]!, entries[1]!]);
    writeLogFile(logs, "C_CONTROL_LOG_20261121000002.txt", [entries[1]!]);
    const out = join(tempDir(), "devices.csv");
    const r = await swtool(["import-csv", "--from", logs, "-o", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${out}\n`);
    const lines = readFileSync(out, "utf8").split("\r\n");
    expect(lines[0]).toBe("smsn");
    expect(lines.slice(1, -1).sort()).toEqual([entries[0]!.serialNumber, entries[1]!.serialNumber].sort());
    expect(r.stderr).toContain("2 devices (1 repeated SMSNs written once) from control logs");
    const again = await swtool(["import-csv", "--from", logs, "-o", out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error: ${out} already exists`);
  });

  test("from the ledger: its provisioned devices", async () => {
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    const base = { port: "tty0", apid: "pd25", stage: "test" };
    await ledger.recordAttempt({ ...base, dsn: "A1", smsn: entries[0]!.serialNumber, result: "provisioned" });
    await ledger.recordAttempt({ ...base, dsn: "A2", smsn: entries[1]!.serialNumber, result: "failed", error: "device said no" });
    await ledger.recordAttempt({ ...base, dsn: "A3", smsn: entries[2]!.serialNumber, result: "provisioned" });
    await ledger.close();
    const r = await swtool(["import-csv", "-o", "devices.csv"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "devices.csv"), "utf8")).toBe(`smsn\r\n${entries[0]!.serialNumber}\r\n${entries[2]!.serialNumber}\r\n`);
  });
});
