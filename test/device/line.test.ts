// The production line end to end over real transports: the simulator on pseudo-terminals
// (opened by swtool's termios binding) and on TCP, the flow, the ledger and control logs.
import { describe, expect, test } from "bun:test";
import { fixedDsn } from "../../src/device/dsn.ts";
import type { LineEvent } from "../../src/device/line.ts";
import { FAULT_KINDS } from "../../src/device/simulator/shell.ts";
import { decodeChainBase64, toHex } from "../../src/sidewalk/index.ts";
import { APP_KEY, controlLogs, runStation, seededRandom, type StationRun } from "./station.ts";

const done = (run: StationRun) => run.events.filter((e): e is Extract<LineEvent, { type: "device-done" }> => e.type === "device-done");
const failed = (run: StationRun) => run.events.filter((e): e is Extract<LineEvent, { type: "device-failed" }> => e.type === "device-failed");

/** Every control log belongs to a device that stored exactly those chains, and vice versa. */
function expectLogsMatchDevices(run: StationRun): void {
  const logs = controlLogs(run.dir);
  const stored = run.sim.devices().filter((d) => d.stored);
  expect(logs.length).toBe(done(run).length);
  expect(new Set(logs.map((l) => l.serialNumber)).size).toBe(logs.length);
  for (const log of logs) {
    const device = stored.find((d) => d.stored!.smsn === log.serialNumber);
    expect(device).toBeDefined();
    const ed = decodeChainBase64(log.ed25519Chain, "ed25519");
    const p256 = decodeChainBase64(log.p256r1Chain, "p256r1");
    expect(toHex(ed.certs[0]!.publicKey)).toBe(device!.stored!.devicePublicKeys.ed25519);
    expect(toHex(p256.certs[0]!.publicKey)).toBe(device!.stored!.devicePublicKeys.p256r1);
    expect(toHex(ed.certs[0]!.signature)).toBe(device!.stored!.deviceSignatures.ed25519);
    expect(device!.stored!.appServerPublicKey).toBe(toHex(APP_KEY));
    expect(log.label).toBe("test");
  }
}

describe("station over real transports", () => {
  test("pseudo-terminal: 3 devices in one fixture, each stored, logged and in the ledger", async () => {
    const run = await runStation({ transport: "pty" }, { count: 3 });
    expect(run.summary).toMatchObject({ provisioned: 3, failed: 0, stoppedBy: "count" });
    expectLogsMatchDevices(run);
    const rows = (await run.ledger.list({ status: "provisioned" }));
    expect(rows.map((r) => r.dsn)).toEqual(["SN0000001", "SN0000002", "SN0000003"]);
    expect(rows.every((r) => r.controlLog && r.smsn.length === 64)).toBe(true);
  });

  test("TCP serial server: the same flow over socket://127.0.0.1", async () => {
    const run = await runStation({ transport: "tcp" }, { count: 2 });
    expect(run.summary).toMatchObject({ provisioned: 2, failed: 0 });
    expect(run.events.find((e) => e.type === "port-open")).toMatchObject({ port: expect.stringMatching(/^socket:\/\/127\.0\.0\.1:\d+$/) });
    expectLogsMatchDevices(run);
  });

  test("two fixtures at once share the signer and the DSN counter", async () => {
    const run = await runStation({ transport: "pty", fixtures: 2 }, { count: 6 });
    expect(run.summary.provisioned).toBe(6);
    const ports = new Set(done(run).map((e) => e.port));
    expect(ports.size).toBe(2);
    expect(new Set(done(run).map((e) => e.dsn)).size).toBe(6);
    expectLogsMatchDevices(run);
  });

  test("noise (log lines, colour codes) and the Zephyr shell style", async () => {
    for (const style of ["nrf5", "zephyr"] as const) {
      const run = await runStation({ transport: "pty", noise: true, style, random: seededRandom(7) }, { count: 2 });
      expect(run.summary).toMatchObject({ provisioned: 2, failed: 0 });
      expectLogsMatchDevices(run);
    }
  });

  for (const kind of FAULT_KINDS) {
    test(`fault: ${kind} — every device is provisioned with a log or reported failed, nothing lost`, async () => {
      const run = await runStation({ transport: "pty", faults: [kind], faultRate: kind === "reset" ? 0.004 : 0.01, silenceMs: 300, random: seededRandom(11) }, { count: 6, protocol: { timeoutMs: 150 } });
      const injected = run.sim.devices().flatMap((d) => d.faults);
      expect(injected.length).toBeGreaterThan(0);
      expect(run.summary.provisioned).toBe(6);
      expectLogsMatchDevices(run);
      // Every device that started ended as provisioned or reported failed (with its step).
      const started = run.events.filter((e) => e.type === "device-start").length;
      expect(done(run).length + failed(run).length).toBe(started);
      for (const f of failed(run)) expect(f.error.startsWith(`${f.step}:`) || f.step === "init").toBe(true);
      expect((await run.ledger.list({ status: "in-progress" }))).toEqual([]);
      expect(done(run).reduce((n, e) => n + e.retries + e.restarts, 0)).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe("device errors at every step", () => {
  const cases: [string, string, number][] = [
    ["cert init", "init", -4],
    ["cert smsn", "smsn", -11],
    ['cert csr "ed25519"', "csr-ed25519", -1],
    ['cert csr "p256r1"', "csr-p256r1", -1],
    ['cert chain start "ed25519"', "chain-ed25519", -11],
    ["cert chain write", "chain-ed25519", -11],
    ["cert chain commit", "chain-ed25519", -11],
    ['cert chain start "p256r1"', "chain-p256r1", -11],
    ["cert app_key start", "app-key", -1],
    ["cert app_key write", "app-key", -10],
    ["cert app_key commit", "app-key", -40],
    ["cert store", "store", -31],
  ];
  for (const [command, step, code] of cases) {
    test(`${command} → ERROR ${code}: failed at ${step}, code kept, no control log, device deinitialised`, async () => {
      const run = await runStation({ transport: "pty", errorAt: { command, code }, count: 1 }, { dsnSource: fixedDsn("SN77"), retries: 1 });
      expect(run.summary).toMatchObject({ provisioned: 0, failed: 1 });
      const f = failed(run)[0]!;
      expect(f).toMatchObject({ step, code });
      expect(f.codeName).toMatch(new RegExp(`^${code} [A-Z_]+$`));
      expect(f.error).toContain(`ERROR ${code}`);
      expect(controlLogs(run.dir)).toEqual([]);
      const row = (await run.ledger.list())[0]!;
      expect(row).toMatchObject({ result: "failed", failedStep: step, errorCode: code, dsn: "SN77" });
      // The failed device got `cert deinit`, so the operator's next device was put in.
      expect(run.sim.fixtures[0]!.devices[0]!.stored).toBeUndefined();
    }, 20_000);
  }
});

describe("ledger and station control", () => {
  test("a DSN already provisioned is refused without touching the device, unless allowed", async () => {
    const first = await runStation({ transport: "pty" }, { dsnSource: fixedDsn("SN500") });
    expect(first.summary.provisioned).toBe(1);
    const again = await runStation({ transport: "pty" }, { dsnSource: fixedDsn("SN500"), dir: first.dir, ledger: first.ledger });
    expect(again.summary).toMatchObject({ provisioned: 0, refused: 1 });
    expect(again.events.find((e) => e.type === "refused")).toMatchObject({ dsn: "SN500", reason: expect.stringContaining("DSN SN500 was provisioned") });
    expect(again.sim.devices()[0]!.stored).toBeUndefined();
    const allowed = await runStation({ transport: "pty" }, { dsnSource: fixedDsn("SN500"), dir: first.dir, ledger: first.ledger, allowReprovision: true });
    expect(allowed.summary.provisioned).toBe(1);
    expect(controlLogs(first.dir).length).toBe(2);
  });

  test("Ctrl-C mid-device: the device in flight finishes, no new one starts", async () => {
    const abort = new AbortController();
    const run = await runStation({ transport: "pty", fixtures: 2 }, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === "step" && e.step === "chain-ed25519") abort.abort();
      },
    });
    expect(run.summary.stoppedBy).toBe("signal");
    expect(run.summary.failed).toBe(0);
    expect(run.summary.provisioned).toBeGreaterThanOrEqual(1);
    const started = run.events.filter((e) => e.type === "device-start").length;
    expect(started).toBe(run.summary.provisioned);
    expect((await run.ledger.list({ status: "in-progress" }))).toEqual([]);
    expectLogsMatchDevices(run);
  });
});
