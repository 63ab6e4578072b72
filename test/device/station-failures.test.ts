// A line whose boards all fail does not run forever: after --max-consecutive-failures boards in
// a row failed on one fixture (a tray with the wrong firmware, a broken fixture), that fixture
// stops with one line saying why, the others go on, and the line ends once every fixture has
// stopped so. Over real ptys, the simulator's firmware failing a step on every board.
import { describe, expect, test } from "bun:test";
import type { LineEvent } from "../../src/device/line.ts";
import { summaryLines } from "../../src/cli/line-view.ts";
import { runStation } from "./station.ts";

type Of<T extends LineEvent["type"]> = Extract<LineEvent, { type: T }>;
const ofType = <T extends LineEvent["type"]>(events: LineEvent[], type: T) => events.filter((e): e is Of<T> => e.type === type);

describe("boards failing in a row stop their fixture", () => {
  test("one fixture, every board fails at cert smsn: 5 boards, then the fixture and the line stop", async () => {
    const run = await runStation({ transport: "pty", errorAt: { command: "cert smsn", code: -11 } }, { maxConsecutiveFailures: 5 });
    const port = run.sim.ports[0]!;
    expect(run.summary).toMatchObject({ provisioned: 0, failed: 5, stoppedBy: "failures" });
    expect(ofType(run.events, "device-start").length).toBe(5);
    expect(run.summary.failures.map((f) => [f.dsn, f.step])).toEqual([1, 2, 3, 4, 5].map((i) => [`SN000000${i}`, "smsn"]));
    const stops = ofType(run.events, "fixture-stopped");
    expect(stops.length).toBe(1);
    const last = run.summary.failures.at(-1)!;
    expect(stops[0]).toEqual({
      type: "fixture-stopped",
      port,
      failures: 5,
      last: last.error,
      message: `fixture ${port}: 5 boards failed in a row (last: ${last.error}); check the fixture and firmware, then restart`,
    });
    expect(last.error).toStartWith("smsn: the device answered `cert smsn ");
    expect(last.error).toEndWith("with ERROR -11 INVALID_ARGS");
    expect(run.summary.perPort[port]).toEqual({ provisioned: 0, failed: 5, stopped: stops[0]!.message });
    expect(ofType(run.events, "stopping").map((e) => [e.reason, e.message])).toEqual([["failures", "line stopped: every fixture failed its boards in a row"]]);
    expect(summaryLines(run.summary)[0]).toMatch(/^0 provisioned, 5 failed, 0 refused in .* stopped by failures$/);
    expect(summaryLines(run.summary)).toContain(`  ${port}: 0 ok, 5 failed, yield 0.0%; stopped: 5 boards failed in a row (last: ${last.error}); check the fixture and firmware, then restart`);
    // Boards the fixture never started were never touched.
    expect(run.sim.devices().filter((d) => d.stored).length).toBe(0);
  }, 60_000);

  test("two fixtures, the first with a tray of wrong firmware: it stops after 3, the second provisions the count", async () => {
    const run = await runStation(
      { transport: "pty", fixtures: 2, errorAt: { command: 'cert csr "ed25519"', code: -1, fixtures: [1] } },
      { maxConsecutiveFailures: 3, count: 6 },
    );
    const [bad, good] = run.sim.ports as [string, string];
    expect(run.summary).toMatchObject({ provisioned: 6, failed: 3, stoppedBy: "count" });
    expect(run.summary.perPort[bad]).toMatchObject({ provisioned: 0, failed: 3, stopped: expect.stringContaining(`fixture ${bad}: 3 boards failed in a row (last: csr-ed25519: `) });
    expect(run.summary.perPort[good]).toEqual({ provisioned: 6, failed: 0 });
    expect(ofType(run.events, "fixture-stopped").map((e) => [e.port, e.failures])).toEqual([[bad, 3]]);
    expect(ofType(run.events, "device-start").filter((e) => e.port === bad).length).toBe(3);
  }, 60_000);

  test("a good board resets the count: failures on boards 2-3 and 5-6 with a limit of 3 never stop the fixture", async () => {
    const run = await runStation({ transport: "pty", errorAt: { command: "cert smsn", code: -11, devices: [2, 3, 5, 6] } }, { maxConsecutiveFailures: 3, count: 3 });
    expect(run.summary).toMatchObject({ provisioned: 3, failed: 4, stoppedBy: "count" });
    expect(ofType(run.events, "fixture-stopped")).toEqual([]);
  }, 60_000);

  test("with a limit of 0 the fixture goes on: 8 failed boards, then the DSNs run out", async () => {
    let left = 8;
    const dsnSource = { description: "8 DSNs", get exhausted() { return left === 0; }, next: async () => (left > 0 ? `SN${left--}` : undefined) };
    const run = await runStation({ transport: "pty", errorAt: { command: "cert smsn", code: -11 } }, { maxConsecutiveFailures: 0, dsnSource });
    expect(run.summary).toMatchObject({ provisioned: 0, failed: 8, stoppedBy: "dsn-source" });
    expect(ofType(run.events, "fixture-stopped")).toEqual([]);
  }, 60_000);
});
