// Station-level trouble and start-up refusals over real ptys: a control-log folder that fills
// up (a real tmpfs when run as root) stops the line and names the board and how to recover;
// a fixture port that cannot be opened, or is held by another program, stops the start;
// --count counts good devices, so a failed board is made up for.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../src/lib/errors.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { startDeviceSimulator } from "../../src/device/simulator/host.ts";
import { lockPort } from "../../src/transport/port-lock.ts";
import { openDeviceLink } from "../../src/transport/open.ts";
import { smallDisk } from "../helpers/disk.ts";
import { controlLogs, runStation, tempDir } from "./station.ts";
import { fromBase64, toHex } from "../../src/lib/bytes.ts";
import { commandText } from "../../src/lib/shell-words.ts";
import { decodeChain } from "../../src/sidewalk/chain.ts";
import { parseControlLog } from "../../src/controllog/format.ts";
import { reprovisionCommand } from "../../src/device/rerun.ts";
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
      // The ledger kept the finished entry: its log is written from there, no new signature.
      const command = `/opt/swtool/swtool ledger write-log --dsn SN0000003 --ledger ${ledger.path} --control_log_dir ${disk.dir}`;
      expect(stop.recover).toBe(`free space in ${disk.dir}, then write board DSN SN0000003's control log from the ledger (no new signature; the board keeps its identity; until then, do not ship it): ${command}`);
      expect(stop.port).toBe(port);
      expect(run.events.filter((e) => e.type === "device-start").length).toBe(3);
      const row = (await ledger.list()).find((r) => r.dsn === "SN0000003")!;
      expect(row).toMatchObject({ result: "failed", failedStep: "control-log" });
      expect(parseControlLog(`{"controlLogs":[${row.controlLogEntry}]}`).map((e) => e.serialNumber)).toEqual([run.sim.devices()[2]!.stored!.smsn]);
    } finally {
      disk.unmount();
    }
  }, 30_000);
});

describe("the board that stored its identity without a control log", () => {
  test("the printed `ledger write-log`, run as printed once the folder has room (no HSM), writes that board's log from the ledger: it verifies and holds the identity the board stored", async () => {
    const disk = smallDisk(1024 * 1024);
    if (!disk) return;
    const ledgerPath = join(tempDir(), "swtool.db");
    const ledger = await openLedger(ledgerPath);
    try {
      // The words `swtool sign` would have been started with for this line (cli/command-line.ts).
      const commandLine = [...swtoolCommand(), "sign", "-p", "TEST_DAK_LINE", "--port", "/dev/ttyUSB0", "--dsn-template", "SN{seq:7}", "--control_log_dir", disk.dir, "--ledger", ledgerPath];
      const run = await runStation({ transport: "pty" }, {
        dir: disk.dir, ledger, count: 5, minFreeBytes: 0, commandLine,
        onEvent: (e) => {
          if (e.type === "device-done" && e.provisioned === 2) disk.fill(0);
        },
      });
      await ledger.close();
      expect(run.summary).toMatchObject({ provisioned: 2, failed: 1, signatures: 6 });
      const stop = run.events.find((e) => e.type === "station-error") as Extract<LineEvent, { type: "station-error" }>;
      const command = stop.recover.slice(stop.recover.indexOf("(no new signature; the board keeps its identity; until then, do not ship it): ") + "(no new signature; the board keeps its identity; until then, do not ship it): ".length);
      expect(command).toBe(commandText([...swtoolCommand(), "ledger", "write-log", "--dsn", "SN0000003", "--ledger", ledgerPath, "--control_log_dir", disk.dir]));
      const stored = run.sim.devices()[2]!.stored!;
      // The operator frees the folder and runs the command as printed; nothing signs (no HSM, no signer at all).
      for (const name of readdirSync(disk.dir)) if (name.startsWith("filler-")) rmSync(join(disk.dir, name));
      const before = new Set(readdirSync(disk.dir));
      const rerun = Bun.spawnSync(["sh", "-c", command]);
      const written = readdirSync(disk.dir).filter((n) => !before.has(n));
      expect(written.length).toBe(1);
      const path = join(disk.dir, written[0]!);
      const reopened = await openLedger(ledgerPath);
      const rows = await reopened.attemptsOf("SN0000003");
      await reopened.close();
      expect([rerun.exitCode, rerun.stderr.toString(), rerun.stdout.toString()]).toEqual([
        0, "", `control log ${path} written for DSN SN0000003 (SMSN ${stored.smsn}) from the ledger's entry of attempt ${rows[0]!.id}; the ledger records the board provisioned (attempt ${rows[1]!.id})\n`,
      ]);
      expect(rows.map((r) => [r.result, r.controlLog ?? null])).toEqual([["failed", null], ["provisioned", path]]);
      // The log holds the identity the board stored (its public keys), and every signature verifies.
      const [entry] = parseControlLog(readFileSync(path, "utf8"));
      expect(entry!.serialNumber).toBe(stored.smsn);
      expect(toHex(decodeChain(fromBase64(entry!.ed25519Chain, "chain"), "ed25519").certs[0]!.publicKey)).toBe(stored.devicePublicKeys.ed25519);
      expect(toHex(decodeChain(fromBase64(entry!.p256r1Chain, "chain"), "p256r1").certs[0]!.publicKey)).toBe(stored.devicePublicKeys.p256r1);
      const verified = Bun.spawnSync([...swtoolCommand(), "verify", path]);
      expect([verified.exitCode, verified.stdout.toString()]).toEqual([0, expect.stringContaining("all signatures verify")]);
      expect(controlLogs(disk.dir).length).toBe(3);
    } finally {
      disk.unmount();
    }
  }, 60_000);

  test("without a kept entry, the command that provisions the board again: the line's own flags for that board alone, quoted for the shell", () => {
    const line = ["/opt/swtool/swtool", "sign", "-p", "TAG", "--port", "/dev/ttyUSB0", "--port=/dev/ttyUSB1", "-D", "SN1", "--dsn-template", "SN{seq:7}", "--dsn-start", "5", "--count", "5", "--dsn-scan", "--allow-missing-fixtures", "--control_log_dir", "/mnt/logs dir", "--boot-banner", "it's up"];
    expect(reprovisionCommand(line, { port: "/dev/ttyUSB1", dsn: "SN0000003" }, "linux")).toBe(
      `/opt/swtool/swtool sign -p TAG --control_log_dir '/mnt/logs dir' --boot-banner 'it'\\''s up' --port /dev/ttyUSB1 --dsn SN0000003 --count 1`,
    );
    expect(reprovisionCommand(["C:\\swtool\\swtool.exe", "sign", "--port", "COM3", "--count", "9", "--control_log_dir", "D:\\line logs"], { port: "COM3", dsn: "SN0000003" }, "win32")).toBe(
      `C:\\swtool\\swtool.exe sign --control_log_dir "D:\\line logs" --port COM3 --dsn SN0000003 --count 1`,
    );
  });
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
