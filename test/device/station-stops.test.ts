// Station-level trouble and start-up refusals over real ptys: a control-log folder that fills
// up (a real tmpfs when run as root) stops the line and names the board and how to recover;
// a fixture port that cannot be opened, or is held by another program, stops the start;
// --count counts good devices, so a failed board is made up for.
import { describe, expect, test } from "bun:test";
import { renameSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/lib/errors.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { startDeviceSimulator } from "../../src/device/simulator/host.ts";
import { lockPort } from "../../src/transport/port-lock.ts";
import { openDeviceLink } from "../../src/transport/open.ts";
import { smallDisk } from "../helpers/disk.ts";
import { controlLogs, runStation, tempDir } from "./station.ts";

const failedOf = (events: LineEvent[]) => events.filter((e): e is Extract<LineEvent, { type: "device-failed" }> => e.type === "device-failed");

describe("a control-log folder that cannot take a log stops the line", () => {
  test("the folder gone before cert store: the board is deinitialised holding no certificate, no board after it", async () => {
    // The folder is moved away once two boards are done (the ledger lives elsewhere).
    const dir = tempDir();
    const ledger = await openLedger(join(tempDir(), "swtool.db"));
    const run = await runStation({ transport: "pty", fixtures: 1 }, {
      dir,
      ledger,
      count: 5,
      onEvent: (e) => {
        if (e.type === "device-done" && e.provisioned === 2) renameSync(dir, `${dir}.moved`);
      },
    });
    expect(run.summary).toMatchObject({ provisioned: 2, failed: 1, stoppedBy: "io-error" });
    const f = failedOf(run.events)[0]!;
    expect(f).toMatchObject({ step: "control-log", board: "no-certificate", action: "rework: board holds no certificate" });
    expect(f.error).toContain(`the control-log folder ${dir} cannot take a log: ENOENT`);
    expect(run.sim.devices()[2]!.stored).toBeUndefined();
    const stop = run.events.find((e) => e.type === "station-error") as Extract<LineEvent, { type: "station-error" }>;
    expect(stop).toMatchObject({ dsn: "SN0000003", action: "rework: board holds no certificate" });
    expect(stop.recover).toContain(`free space in ${dir}`);
    expect(run.events.filter((e) => e.type === "device-start").length).toBe(3);
    expect(controlLogs(`${dir}.moved`).length).toBe(2);
  }, 30_000);

  test("a folder with no room at the start: refused before any board", async () => {
    await expect(runStation({ transport: "pty" }, { count: 1, minFreeBytes: Number.MAX_SAFE_INTEGER })).rejects.toThrow(/cannot take a log: only \d+ bytes free/);
  });

  test("a full tmpfs: the log write after cert store fails, the board is named 'do not ship' with the command that recovers it", async () => {
    const disk = smallDisk(1024 * 1024);
    if (!disk) return;
    try {
      // The ledger lives elsewhere: only the control-log folder fills up.
      const ledger = await openLedger(join(tempDir(), "swtool.db"));
      const run = await runStation({ transport: "pty" }, {
        dir: disk.dir,
        ledger,
        count: 5,
        minFreeBytes: 0,
        commandLine: ["/opt/swtool/swtool", "sign", "-p", "TEST_DAK_LINE", "-c", "http://127.0.0.1:12345", "--port", "/dev/ttyUSB0", "--port=/dev/ttyUSB1", "--dsn-template", "SN{seq:7}", "--count", "5", "--control_log_dir", disk.dir, "--boot-banner", "it's up", "--json"],
        onEvent: (e) => {
          if (e.type === "device-done" && e.provisioned === 2) disk.fill(0);
        },
      });
      expect(run.summary).toMatchObject({ provisioned: 2, failed: 1, stoppedBy: "io-error" });
      const f = failedOf(run.events)[0]!;
      expect(f).toMatchObject({ step: "control-log", board: "stored-no-log", action: "do not ship: certificates stored, no control log" });
      expect(f.error).toMatch(/the disk is full|ENOSPC/);
      // The board did store its identity; no log exists for it, and the operator is told how to recover.
      expect(run.sim.devices()[2]!.stored).toBeDefined();
      expect(controlLogs(disk.dir).length).toBe(2);
      const stop = run.events.find((e) => e.type === "station-error") as Extract<LineEvent, { type: "station-error" }>;
      const port = run.sim.ports[0]!;
      const command = `/opt/swtool/swtool sign -p TEST_DAK_LINE -c http://127.0.0.1:12345 --control_log_dir ${disk.dir} --boot-banner 'it'\\''s up' --json --port ${port} --dsn SN0000003 --count 1`;
      expect(stop.recover).toBe(`free space in ${disk.dir}, leave board DSN SN0000003 in fixture ${port} (or put it back there) and provision it again, a new identity replacing the stored one (until then, do not ship it): ${command}`);
      expect(run.events.filter((e) => e.type === "device-start").length).toBe(3);
      const row = (await ledger.list()).find((r) => r.dsn === "SN0000003")!;
      expect(row).toMatchObject({ result: "failed", failedStep: "control-log" });
    } finally {
      disk.unmount();
    }
  }, 30_000);
});

describe("start-up refusals", () => {
  test("a fixture port that cannot be opened stops the start (exit 2), unless missing fixtures are allowed", async () => {
    const sim = await startDeviceSimulator({ transport: "pty" });
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    try {
      const { runLine } = await import("../../src/device/line.ts");
      const { dsnTemplate } = await import("../../src/device/dsn.ts");
      const { testSigner, APP_KEY, DEVICE_TYPE, APID } = await import("./station.ts");
      const base = { signer: testSigner(), deviceType: DEVICE_TYPE, apid: APID, appServerPublicKey: APP_KEY, dsnSource: dsnTemplate("SN{seq:7}", 1, ledger), ledger, controlLogDir: dir, count: 1, protocol: { timeoutMs: 400 } };
      const refused = runLine({ ...base, ports: [sim.ports[0]!, "/dev/swtool-no-such-fixture"] });
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      await expect(refused).rejects.toThrow(/cannot open fixture port \/dev\/swtool-no-such-fixture/);
      expect(sim.devices()[0]!.stored).toBeUndefined();
      const events: LineEvent[] = [];
      const summary = await runLine({ ...base, ports: [sim.ports[0]!, "/dev/swtool-no-such-fixture"], allowMissingFixtures: true, onEvent: (e) => events.push(e) });
      expect(summary.provisioned).toBe(1);
      expect(events.some((e) => e.type === "warning" && e.message.includes("/dev/swtool-no-such-fixture cannot be opened"))).toBe(true);
    } finally {
      await ledger.close();
      await sim.close();
    }
  }, 30_000);

  test("a port another program holds is refused by its lock file, also for root; a stale lock is taken over", async () => {
    const sim = await startDeviceSimulator({ transport: "pty" });
    try {
      const link = await openDeviceLink(sim.ports[0]!);
      await expect(openDeviceLink(sim.ports[0]!)).rejects.toThrow(new RegExp(`${sim.ports[0]} is in use by process ${process.pid} \\(lock file .*LCK\\.\\.pts_\\d+\\)`));
      await link.close();
      // Closed: free again.
      const again = await openDeviceLink(sim.ports[0]!);
      await again.close();
      // A lock left by a process that is gone is stale.
      const { writeFileSync } = await import("node:fs");
      const lock = lockPort(sim.ports[0]!);
      lock.release();
      writeFileSync(lock.path, `${String(2 ** 22 + 12345).padStart(10)}\n`);
      const taken = await openDeviceLink(sim.ports[0]!);
      await taken.close();
    } finally {
      await sim.close();
    }
  });
});

describe("--count counts good devices", () => {
  test("--count 3 with the second board failing: 3 provisioned, 1 failed", async () => {
    const run = await runStation({ transport: "pty", errorAt: { command: "cert store", code: -1, devices: [2] } }, { count: 3 });
    expect(run.summary).toMatchObject({ provisioned: 3, failed: 1, stoppedBy: "count" });
    expect(run.summary.failures.map((f) => [f.dsn, f.step])).toEqual([["SN0000002", "store"]]);
  }, 30_000);

  test("two fixtures, --count 4, one failure in flight: the line does not stop short", async () => {
    const run = await runStation({ transport: "pty", fixtures: 2, errorAt: { command: "cert store", code: -1, devices: [2] } }, { count: 4 });
    expect(run.summary.provisioned).toBe(4);
    expect(run.summary.failed).toBeGreaterThanOrEqual(1);
  }, 30_000);
});

describe("a second Ctrl-C aborts the devices in flight cleanly", () => {
  test("stop, then abort mid-chain: each board gets cert deinit, its attempt is recorded failed, no log", async () => {
    const stop = new AbortController();
    const abort = new AbortController();
    let deinitsAfterAbort = 0;
    const run = await runStation({ transport: "pty", fixtures: 2, realistic: true, swapMs: 50 }, {
      signal: stop.signal,
      abortSignal: abort.signal,
      protocol: { timeoutMs: 1000, onTraffic: (dir, line) => void (dir === "tx" && line === "cert deinit" && abort.signal.aborted && deinitsAfterAbort++) },
      onEvent: (e) => {
        if (e.type === "step" && e.step === "chain-ed25519" && !stop.signal.aborted) {
          stop.abort();
          setTimeout(() => abort.abort(), 20);
        }
      },
    });
    const stopping = run.events.filter((e): e is Extract<LineEvent, { type: "stopping" }> => e.type === "stopping");
    expect(stopping[0]!.message).toMatch(/^stopping: finishing [12] devices? \(Ctrl-C again to abort them\)$/);
    expect(stopping.at(-1)!.reason).toBe("abort");
    expect(run.summary.stoppedBy).toBe("abort");
    const failures = failedOf(run.events);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const f of failures) expect(f).toMatchObject({ error: expect.stringMatching(/aborted by the operator$/), action: "rework: board holds no certificate" });
    expect(await run.ledger.list({ status: "in-progress" })).toEqual([]);
    expect((await run.ledger.list({ status: "failed" })).length).toBe(failures.length);
    // Each aborted board was deinitialised and stores nothing.
    expect(deinitsAfterAbort).toBeGreaterThanOrEqual(failures.length);
    for (const f of failures) expect(run.sim.fixtures[run.sim.ports.indexOf(f.port)]!.devices[0]!.stored).toBeUndefined();
    expect(controlLogs(run.dir).length).toBe(run.summary.provisioned);
  }, 30_000);
});
