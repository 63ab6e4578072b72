// Station-level trouble and start-up refusals over real ptys: a control-log folder that fills
// up (a real tmpfs when run as root) stops the line and names the board and how to recover;
// a fixture port that cannot be opened, or is held by another program, stops the start;
// --count counts good devices, so a failed board is made up for.
import { describe, expect, test } from "bun:test";
import { readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/lib/errors.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { startDeviceSimulator } from "../../src/device/simulator/host.ts";
import { lockPort } from "../../src/transport/port-lock.ts";
import { openDeviceLink } from "../../src/transport/open.ts";
import { smallDisk } from "../helpers/disk.ts";
import { controlLogs, runStation, tempDir, APP_KEY, APID, DEVICE_TYPE } from "./station.ts";
import { runRehearsalStation } from "../../src/demo/station.ts";
import { openCertStore } from "../../src/signer/hsm/index.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { startLoadedHsm, TEST_PIN } from "../helpers/hsm.ts";
import { swtoolCommand } from "../helpers/cli.ts";

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

describe("the board that stored its identity without a control log", () => {
  test("the printed command, run as printed once the folder has room, provisions that board again with a valid control log", async () => {
    const disk = smallDisk(4 * 1024 * 1024);
    if (!disk) return;
    const hsm = await startLoadedHsm("TEST_DAK_RERUN");
    // Boards stay in the fixture until the test (the operator) swaps them.
    const sim = await startDeviceSimulator({ transport: "pty", swapOnDeinit: false });
    const ledgerPath = join(tempDir(), "swtool.db");
    const ledger = await openLedger(ledgerPath);
    const signer = await openCertStore({ connector: hsm.url, pin: TEST_PIN, productTag: hsm.productTag });
    try {
      // The words `swtool sign` would have been started with for this line (cli/command-line.ts).
      const commandLine = [
        ...swtoolCommand(), "sign", "-p", hsm.productTag, "-c", hsm.url, "--device_type", DEVICE_TYPE, "--apid", APID,
        "--app_server_public_key", toHex(APP_KEY), "--control_log_dir", disk.dir, "--ledger", ledgerPath,
        "--port", sim.ports[0]!, "--dsn-template", "SN{seq:7}", "--count", "5", "--json",
      ];
      const events: LineEvent[] = [];
      let swaps: Promise<unknown> = Promise.resolve();
      await runRehearsalStation({
        ports: sim.ports, signer, dir: disk.dir, ledger, dsnTemplate: "SN{seq:7}", count: 5, minFreeBytes: 0, commandLine,
        protocol: { timeoutMs: 400 },
        onEvent: (e) => {
          events.push(e);
          if (e.type !== "device-done") return;
          if (e.provisioned === 2) disk.fill(0);
          swaps = swaps.then(async () => {
            await sim.fixtures[0]!.takeOut();
            await sim.fixtures[0]!.putIn();
          });
        },
      });
      await swaps;
      await signer.close();
      await ledger.close();
      const stop = events.find((e) => e.type === "station-error") as Extract<LineEvent, { type: "station-error" }>;
      const command = stop.recover.slice(stop.recover.indexOf("(until then, do not ship it): ") + "(until then, do not ship it): ".length);
      expect(command).toEndWith(`--json --port ${sim.ports[0]} --dsn SN0000003 --count 1`);
      const board = sim.devices()[2]!;
      const firstIdentity = board.stored!;
      // The operator frees the folder and runs the command as printed.
      for (const name of readdirSync(disk.dir)) if (name.startsWith("filler-")) rmSync(join(disk.dir, name));
      // (Not spawnSync: the HSM simulator answers from this process.)
      const rerun = Bun.spawn(["sh", "-c", command], { env: { ...process.env, SWTOOL_HSM_PIN: TEST_PIN }, stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(rerun.stdout).text(), new Response(rerun.stderr).text(), rerun.exited]);
      expect([code, stderr]).toEqual([0, ""]);
      const done = stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.type === "device-done");
      expect(done.map((r) => r.dsn)).toEqual(["SN0000003"]);
      // The same board holds a new identity, and its control log is in the folder and verifies.
      expect(sim.devices().length).toBe(3);
      expect(board.stored).not.toBe(firstIdentity);
      const logs = controlLogs(disk.dir);
      expect(logs.length).toBe(3);
      expect(logs.map((l) => l.serialNumber)).toContain(board.stored!.smsn);
      const verified = Bun.spawnSync([...swtoolCommand(), "verify", done[0].controlLog]);
      expect(verified.stdout.toString()).toContain("all signatures verify");
      expect(verified.exitCode).toBe(0);
      const reopened = await openLedger(ledgerPath);
      const rows = (await reopened.list()).filter((r) => r.dsn === "SN0000003").map((r) => r.result);
      await reopened.close();
      expect(rows.sort()).toEqual(["failed", "provisioned"]);
    } finally {
      await signer.close().catch(() => {});
      await sim.close();
      await hsm.stop();
      disk.unmount();
    }
  }, 60_000);
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

describe("a fixture port held by another process", () => {
  test("a second process holding the port (its lock file) stops the start with the holder's pid; once it lets go, the line runs", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { lockName } = await import("../../src/transport/port-lock.ts");
    const { runLine } = await import("../../src/device/line.ts");
    const { dsnTemplate } = await import("../../src/device/dsn.ts");
    const { testSigner, APP_KEY, DEVICE_TYPE, APID } = await import("./station.ts");
    const locks = mkdtempSync(join(tmpdir(), "swtool-locks-"));
    const saved = process.env.SWTOOL_LOCK_DIR;
    process.env.SWTOOL_LOCK_DIR = locks;
    const sim = await startDeviceSimulator({ transport: "pty" });
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    // The holder: another process that opens the port as swtool does (lock file and all) and
    // keeps it until its stdin closes.
    const holderScript = join(dir, "holder.ts");
    writeFileSync(holderScript, `
      const { openDeviceLink } = await import(${JSON.stringify(join(import.meta.dir, "../../src/transport/open.ts"))});
      const link = await openDeviceLink(process.argv[2]);
      console.log("locked");
      for await (const _ of Bun.stdin.stream()) {}
      await link.close();
    `);
    const holder = Bun.spawn([process.execPath, holderScript, sim.ports[0]!], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: { ...process.env, SWTOOL_LOCK_DIR: locks } });
    try {
      const { reader } = await readLocked(holder.stdout);
      const base = { signer: testSigner(), deviceType: DEVICE_TYPE, apid: APID, appServerPublicKey: APP_KEY, dsnSource: dsnTemplate("SN{seq:7}", 1, ledger), ledger, controlLogDir: dir, count: 1, protocol: { timeoutMs: 400 } };
      const port = sim.ports[0]!;
      const refused = runLine({ ...base, ports: [port] });
      await expect(refused).rejects.toBeInstanceOf(UsageError);
      await expect(refused).rejects.toThrow(new UsageError(`cannot open fixture port ${port}: ${port} is in use by process ${holder.pid} (lock file ${join(locks, lockName(port))})`));
      expect(sim.devices()[0]!.stored).toBeUndefined();
      // The holder lets go: the same start now provisions the board.
      holder.stdin.end();
      expect(await holder.exited).toBe(0);
      reader.releaseLock();
      expect(await runLine({ ...base, ports: [port] })).toMatchObject({ provisioned: 1, failed: 0 });
    } finally {
      holder.kill();
      await ledger.close();
      await sim.close();
      if (saved === undefined) delete process.env.SWTOOL_LOCK_DIR;
      else process.env.SWTOOL_LOCK_DIR = saved;
    }
  }, 30_000);
});

/** Waits for the holder's "locked" line (the order is explicit: no sleeping). */
async function readLocked(stdout: ReadableStream<Uint8Array>) {
  const { readUntil } = await import("../helpers/cli.ts");
  return readUntil(stdout, "locked\n");
}

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
