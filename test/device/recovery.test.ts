// Recovery by the smallest safe step, over real pseudo-terminals: noise that mentions `{CERT`
// never fails a command, and every fault kind at every step of the flow ends with the device
// provisioned, with no extra DAK signature except when the board rebooted after signing.
import { describe, expect, test } from "bun:test";
import { fixedDsn } from "../../src/device/dsn.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { controlLogs, runStation, seededRandom } from "./station.ts";

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
