// Recovery by the smallest safe step, over real pseudo-terminals: noise that mentions `{CERT`
// never fails a command, and every fault kind at every step of the flow ends with the device
// provisioned, with no extra DAK signature except when the board rebooted after signing.
import { describe, expect, test } from "bun:test";
import { fixedDsn } from "../../src/device/dsn.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { controlLogs, runStation, seededRandom, tempDir } from "./station.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { writeLogFromLedger } from "../../src/device/recover.ts";
import { importLedger } from "../../src/ledger/import.ts";
import { entryObject, parseControlLog } from "../../src/controllog/format.ts";
import { makeEntry, makeTestLine } from "../controllog/fixtures.ts";
import { findPostgres, SKIP_MESSAGE, startPostgres } from "../../harness/postgres.ts";

type Done = Extract<LineEvent, { type: "device-done" }>;
const doneOf = (events: LineEvent[]) => events.filter((e): e is Done => e.type === "device-done");

describe("noise", () => {
  test("log lines that mention {CERT before every answer line: no command fails, no retry", async () => {
    const rx: string[] = [];
    const run = await runStation(
      { transport: "pty", noise: true, noiseRate: 1, random: seededRandom(3) },
      { count: 3, protocol: { timeoutMs: 400, onTraffic: (dir, line) => dir === "rx" && rx.push(line) } },
    );
    expect(run.summary).toMatchObject({ provisioned: 3, failed: 0, signatures: 6 });
    expect(doneOf(run.events).map((e) => e.retries)).toEqual([0, 0, 0]);
    // The noise really was there, and really looked like answers.
    expect(rx.filter((l) => l.includes("{CERT state 0x1f}")).length).toBeGreaterThan(3);
    expect(rx.filter((l) => l.includes("{CERT OK pending")).length).toBeGreaterThan(3);
    expect(controlLogs(run.dir).length).toBe(3);
  }, 30_000);
});

// [command prefix, which occurrence, signed before it?]
const STEPS: [string, number, boolean][] = [
  ["cert init", 1, false],
  ["cert smsn", 1, false],
  ['cert csr "ed25519"', 1, false],
  ['cert csr "p256r1"', 1, false],
  ['cert chain start "ed25519"', 1, true],
  ["cert chain write", 3, true],
  ["cert chain commit", 1, true],
  ['cert chain start "p256r1"', 1, true],
  ["cert chain write", 40, true],
  ["cert chain commit", 2, true],
  ["cert app_key start", 1, true],
  ["cert app_key write", 2, true],
  ["cert app_key commit", 1, true],
  ["cert store", 1, true],
  ["cert deinit", 1, true],
];
const KINDS = ["drop", "garble-input", "garble-output", "silence", "reset"] as const;

describe("every fault at every step", () => {
  for (const [command, nth, signed] of STEPS) {
    for (const kind of KINDS) {
      test(`${kind} at ${command} #${nth}: provisioned, ${kind === "reset" && signed && command !== "cert deinit" ? "the wasted signatures counted" : "no signature wasted"}`, async () => {
        const run = await runStation(
          { transport: "pty", faultAt: { command, kind, nth }, silenceMs: 300, random: seededRandom(5) },
          { dsnSource: fixedDsn("SN900"), protocol: { timeoutMs: 150 } },
        );
        // One fault on the board (a deinit retried after the swap may reach the next one).
        expect(run.sim.devices()[0]!.faults.length).toBe(1);
        expect(run.summary).toMatchObject({ provisioned: 1, failed: 0 });
        const done = doneOf(run.events)[0]!;
        const rebootAfterSigning = kind === "reset" && signed && command !== "cert deinit";
        expect(done.wastedSignatures).toBe(rebootAfterSigning ? 2 : 0);
        expect(run.summary.signatures).toBe(rebootAfterSigning ? 4 : 2);
        expect(done.restarts).toBe(kind === "reset" && command !== "cert init" && command !== "cert deinit" ? 1 : 0);
        if (command !== "cert deinit" || kind !== "reset") expect(done.retries + done.restarts).toBeGreaterThan(0);
        const logs = controlLogs(run.dir);
        expect(logs.length).toBe(1);
        expect(logs[0]!.serialNumber).toBe(run.sim.devices()[0]!.stored!.smsn);
      }, 20_000);
    }
  }
});

describe("a board that stored its identity without a log: the ledger keeps its entry (schema 5)", () => {
  const engines: [string, () => Promise<{ location: string; done: () => Promise<void> }>][] = [
    ["SQLite", async () => ({ location: join(tempDir(), "swtool.db"), done: async () => {} })],
  ];
  const bin = findPostgres();
  if (bin) {
    engines.push(["PostgreSQL", async () => {
      const pg = await startPostgres(bin);
      return { location: await pg.createDatabase("writelog"), done: () => pg.destroy() };
    }]);
  } else console.warn(SKIP_MESSAGE);

  for (const [engine, open] of engines) {
    test(`${engine}: write-log publishes the kept entry once, verified, and records the board provisioned`, async () => {
      const where = await open();
      const ledger = await openLedger(where.location);
      try {
        const entry = await makeEntry(makeTestLine());
        const text = JSON.stringify(entryObject(entry));
        const start = { port: "/dev/ttyUSB0", dsn: "SN0000003", smsn: entry.serialNumber, apid: entry.apid, stage: "test" };
        const failed = await ledger.beginAttempt(start);
        await ledger.finishAttempt(failed, { result: "failed", failedStep: "control-log", error: "control-log: ENOSPC", controlLogEntry: text });
        expect((await ledger.attemptsOf("SN0000003")).map((a) => [a.id, a.result, a.controlLogEntry])).toEqual([[failed, "failed", text]]);
        const dir = tempDir();
        const written = await writeLogFromLedger(ledger, "SN0000003", dir);
        expect(parseControlLog(readFileSync(written.controlLog, "utf8"))).toEqual([entry]);
        expect((await ledger.attemptsOf("SN0000003")).map((a) => [a.result, a.controlLog ?? null])).toEqual([["failed", null], ["provisioned", written.controlLog]]);
        expect(await ledger.isProvisioned({ dsn: "SN0000003" })).toMatchObject({ id: written.attempt, controlLog: written.controlLog });
        expect(await ledger.controlLogKnown(written.controlLog)).toBe(true);
        // Once is all: the log exists and the ledger holds the device.
        await expect(writeLogFromLedger(ledger, "SN0000003", dir)).rejects.toThrow(new Error(`DSN SN0000003 was provisioned again after attempt ${failed} (attempt ${written.attempt}); its kept entry is out of date`));
        await expect(writeLogFromLedger(ledger, "SN0000009", dir)).rejects.toThrow(new Error(`the ledger ${ledger.path} keeps no control-log entry for DSN SN0000009`));
        // A damaged entry is never published.
        const bad = await ledger.beginAttempt({ ...start, dsn: "SN0000004", smsn: "ab".repeat(32) });
        await ledger.finishAttempt(bad, { result: "failed", failedStep: "control-log", controlLogEntry: text.replace(entry.serialNumber, "ab".repeat(32)) });
        await expect(writeLogFromLedger(ledger, "SN0000004", dir)).rejects.toThrow(new Error(`control log: controlLogs[0] Ed25519 chain: device serial ${entry.serialNumber} is not the entry's serialNumber ${"ab".repeat(32)}`));
        expect(readdirSync(dir).length).toBe(1);
      } finally {
        await ledger.close();
        await where.done();
      }
    }, 120_000);

    test(`${engine}: the kept entry travels with \`ledger import\` from a line PC's ledger, and write-log works from the target`, async () => {
      const where = await open();
      const source = await openLedger(join(tempDir(), "swtool.db"));
      const target = await openLedger(where.location);
      try {
        const entry = await makeEntry(makeTestLine());
        const text = JSON.stringify(entryObject(entry));
        const failed = await source.beginAttempt({ port: "/dev/ttyUSB0", dsn: "SN0000007", smsn: entry.serialNumber, apid: entry.apid, stage: "test" });
        await source.finishAttempt(failed, { result: "failed", failedStep: "control-log", controlLogEntry: text });
        await importLedger(source, target);
        expect((await target.attemptsOf("SN0000007")).map((a) => [a.result, a.controlLogEntry])).toEqual([["failed", text]]);
        const written = await writeLogFromLedger(target, "SN0000007", tempDir());
        expect(parseControlLog(readFileSync(written.controlLog, "utf8"))).toEqual([entry]);
      } finally {
        await source.close();
        await target.close();
        await where.done();
      }
    }, 120_000);
  }
});
