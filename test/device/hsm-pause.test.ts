// HSM trouble pauses the line, over the HSM simulator's HTTP connector and real ptys: the
// connector stopped and started again mid-run, and another client holding 15 of the HSM's 16
// sessions. No device fails, no DSN is spent on a pause, a device waiting for its signatures
// gets them once the HSM is back.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { LineEvent } from "../../src/device/line.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { OBJECT_TYPE } from "../../src/hsm/protocol.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { Connector } from "../../src/hsm/transport.ts";
import { loadTestChain, openCertStore } from "../../src/signer/hsm/index.ts";
import type { DeviceSimulator } from "../../src/device/simulator/host.ts";
import { controlLogs, runStation, tempDir } from "./station.ts";

const PIN = "pause-pin-0815";
const TAG = "TEST_DAK_PAUSE";

async function loadedHsm(dir: string, listen = "127.0.0.1:0"): Promise<HsmSimulator> {
  const sim = await startHsmSimulator({ listen, latency: "none", statePath: join(dir, "hsm-state.json") });
  return sim;
}

describe("HSM trouble pauses the line", () => {
  test("connector stopped mid-run and started 1.5 s later: every device provisioned, no DSN skipped", async () => {
    const dir = tempDir();
    let hsm = await loadedHsm(dir);
    await loadTestChain({ connector: hsm.url, productTag: TAG, pin: PIN });
    const port = new URL(hsm.url).port;
    const signer = await openCertStore({ connector: hsm.url, pin: PIN, productTag: TAG, sessions: 2 });
    let stopped = false;
    let restarted: Promise<void> | undefined;
    const hsmEvents: Extract<LineEvent, { type: "hsm" }>[] = [];
    try {
      const run = await runStation({ transport: "pty", fixtures: 2 }, {
        dir,
        signer,
        count: 6,
        onEvent: (e) => {
          if (e.type === "hsm") hsmEvents.push(e);
          if (e.type === "device-done" && e.provisioned === 2 && !stopped) {
            stopped = true;
            restarted = (async () => {
              await hsm.stop();
              await Bun.sleep(1500);
              hsm = await loadedHsm(dir, `127.0.0.1:${port}`);
            })();
          }
        },
      });
      await restarted;
      expect(run.summary).toMatchObject({ provisioned: 6, failed: 0, refused: 0 });
      expect(hsmEvents.map((e) => e.state)).toEqual(["unreachable", "ok"]);
      expect(hsmEvents[0]!.message).toMatch(/^HSM unreachable since \d\d:\d\d:\d\d; line paused$/);
      // No DSN was spent on the pause: the ledger holds exactly six attempts, all provisioned.
      const rows = await run.ledger.list();
      expect(rows.map((r) => [r.dsn, r.result])).toEqual([1, 2, 3, 4, 5, 6].map((n) => [`SN000000${n}`, "provisioned"]));
      expect(controlLogs(run.dir).length).toBe(6);
      // No board started while the line was paused.
      const from = run.events.findIndex((e) => e.type === "hsm" && e.state === "unreachable");
      const to = run.events.findIndex((e) => e.type === "hsm" && e.state === "ok");
      expect(run.events.slice(from, to).filter((e) => e.type === "device-start")).toEqual([]);
    } finally {
      await signer.close().catch(() => {});
      await hsm.stop();
    }
  }, 60_000);

  test("another client holds 15 of the 16 sessions: the line signs on the one left, no device fails", async () => {
    const dir = tempDir();
    const hsm = await loadedHsm(dir);
    await loadTestChain({ connector: hsm.url, productTag: TAG, pin: PIN });
    const connector = new Connector({ url: hsm.url });
    const others: HsmSession[] = [];
    for (let i = 0; i < 15; i++) others.push(await HsmSession.open(connector, 5, deriveAuthKey(PIN)));
    const signer = await openCertStore({ connector: hsm.url, pin: PIN, productTag: TAG, sessions: 4 });
    try {
      const run = await runStation({ transport: "pty", fixtures: 3 }, { dir, signer, count: 6 });
      expect(run.summary).toMatchObject({ provisioned: 6, failed: 0, refused: 0 });
      const rows = await run.ledger.list();
      expect(rows.every((r) => r.result === "provisioned")).toBe(true);
      expect(rows.length).toBe(6);
    } finally {
      await signer.close();
      await Promise.all(others.map((s) => s.close()));
      await hsm.stop();
    }
  }, 60_000);
  test("a board found, then taken out while the HSM is away, gets no DSN: no failed attempt, the DSNs stay contiguous", async () => {
    // The test is the operator: boards stay in their fixtures until it swaps them, and each
    // step waits for the station's event that makes it meaningful.
    const dir = tempDir();
    let hsm = await loadedHsm(dir);
    await loadTestChain({ connector: hsm.url, productTag: TAG, pin: PIN });
    const hsmPort = new URL(hsm.url).port;
    const signer = await openCertStore({ connector: hsm.url, pin: PIN, productTag: TAG, sessions: 2 });
    let sim!: DeviceSimulator;
    let steps: Promise<unknown> = Promise.resolve();
    const then = (f: () => Promise<unknown>) => void (steps = steps.then(f));
    let stage = "first boards";
    try {
      const run = await runStation(
        { transport: "pty", fixtures: 2, swapOnDeinit: false },
        {
          dir,
          signer,
          count: 4,
          onEvent: (e) => {
            const [f1, f2] = sim.fixtures;
            const p1 = sim.ports[0];
            if (stage === "first boards" && e.type === "device-done" && e.provisioned === 2) {
              // Both first boards done: the HSM goes away, and fixture 2 gets its next board,
              // which starts (the line does not know yet) and finds the HSM unreachable.
              stage = "hsm down";
              then(async () => {
                await hsm.stop();
                await f2!.takeOut();
                await f2!.putIn();
              });
            } else if (stage === "hsm down" && e.type === "hsm" && e.state === "unreachable") {
              // Line paused: fixture 1's next board is found, and waits for the HSM.
              stage = "paused";
              then(async () => {
                await f1!.takeOut();
                await f1!.putIn();
              });
            } else if (stage === "paused" && e.type === "waiting" && e.port === p1 && e.for === "hsm") {
              // The operator takes that board out again during the pause; then the HSM comes back.
              stage = "taken out";
              then(async () => {
                await f1!.takeOut();
                hsm = await loadedHsm(dir, `127.0.0.1:${hsmPort}`);
              });
            } else if (stage === "taken out" && e.type === "waiting" && e.port === p1 && e.for !== "hsm") {
              stage = "refilled";
              then(() => f1!.putIn());
            }
          },
        },
        (s) => (sim = s),
      );
      await steps;
      expect(stage).toBe("refilled");
      expect(run.summary).toMatchObject({ provisioned: 4, failed: 0, refused: 0 });
      const rows = await run.ledger.list();
      expect(rows.map((r) => [r.dsn, r.result])).toEqual([1, 2, 3, 4].map((n) => [`SN000000${n}`, "provisioned"]));
      expect(controlLogs(run.dir).length).toBe(4);
      expect(run.events.filter((e) => e.type === "warning").map((e) => (e as Extract<LineEvent, { type: "warning" }>).message)).toEqual([
        `${sim.ports[0]}: the board found before the line waited no longer answers (taken out?); no DSN was spent on it: waiting for a board`,
      ]);
    } finally {
      await signer.close().catch(() => {});
      await hsm.stop();
    }
  }, 60_000);
});

describe("the HSM refuses the line's PIN mid-shift", () => {
  test("one HSM: the board at sign fails holding no certificate, the line stops at once (no board after it, one authentication tried)", async () => {
    const dir = tempDir();
    const log: string[] = [];
    // Sessions lapse between boards (300 ms idle, 800 ms swaps), so the next board needs a new session.
    const hsm = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none", idleTimeoutMs: 300, log: (l) => log.push(l) });
    await loadTestChain({ connector: hsm.url, productTag: TAG, pin: PIN });
    const signer = await openCertStore({ connector: hsm.url, pin: PIN, productTag: TAG, sessions: 1 });
    let changedAt: number | undefined;
    try {
      const run = await runStation({ transport: "pty", fixtures: 1, swapMs: 800 }, {
        dir,
        signer,
        count: 6,
        onEvent: (e) => {
          if (e.type === "device-done" && e.provisioned === 2 && changedAt === undefined) {
            // Someone changes the PIN on the HSM (its authentication keys replaced).
            const other = deriveAuthKey("a-new-pin");
            for (const slot of [5, 6]) {
              const key = hsm.device.state.get(OBJECT_TYPE.AUTHENTICATION_KEY, slot);
              if (key) key.data = new Uint8Array([...other.encKey, ...other.macKey]);
            }
            changedAt = log.length;
          }
        },
      });
      expect(run.summary).toMatchObject({ provisioned: 2, failed: 1, refused: 0, stoppedBy: "hsm-pin" });
      const stop = run.events.find((e) => e.type === "station-error") as Extract<LineEvent, { type: "station-error" }>;
      expect(stop).toEqual({
        type: "station-error",
        port: run.sim.ports[0]!,
        dsn: "SN0000003",
        message: "sign: the HSM rejected the PIN for authentication key slot 5",
        action: "rework: board holds no certificate",
        recover: "check the HSM's PIN (it may have been changed), then start the line again with the right one; board DSN SN0000003 holds no certificate and can be provisioned again",
      });
      const rows = await run.ledger.list();
      expect(rows.map((r) => [r.dsn, r.result])).toEqual([["SN0000001", "provisioned"], ["SN0000002", "provisioned"], ["SN0000003", "failed"]]);
      // One failed authentication (it holds an HSM slot for 30 s), not one per board.
      expect(log.slice(changedAt).filter((l) => l.includes("create-session")).length).toBe(1);
    } finally {
      await signer.close().catch(() => {});
      await hsm.stop();
    }
  }, 60_000);
});
