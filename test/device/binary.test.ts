// The serial binding and the simulator inside the compiled binary: `swtool device simulate`
// on a pseudo-terminal, `swtool device probe` opening it through serialport's stream API over
// the termios binding; `swtool ports`; `swtool ledger` on a ledger the line wrote.
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { listLinuxPorts } from "../../src/transport/ports.ts";
import { spawnSwtool, type SpawnedSwtool } from "../../harness/process.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir, runStation } from "./station.ts";

const started: SpawnedSwtool[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

async function simulate(args: string[]): Promise<string[]> {
  const sim = await spawnSwtool(["device", "simulate", "--json", ...args], { stderr: "ignore" });
  started.push(sim);
  return sim.first.ports as string[];
}

test("device simulate --pty and device probe through the termios binding", async () => {
  const [pty] = await simulate(["--pty", "--noise", "--style", "zephyr"]);
  expect(pty).toMatch(/^\/dev\/pts\/\d+$/);
  const probe = await swtool(["device", "probe", "--port", pty!, "--json"]);
  expect(probe.code).toBe(0);
  expect(JSON.parse(probe.stdout)).toMatchObject({ port: pty, ok: true, base64Mtu: 32 });
}, 20_000);

test("device simulate --listen and device probe over socket://", async () => {
  const [port] = await simulate(["--listen", "127.0.0.1:0", "--realistic"]);
  expect(port).toMatch(/^socket:\/\/127\.0\.0\.1:\d+$/);
  const probe = await swtool(["device", "probe", "--port", port!]);
  expect(probe.stdout).toBe(`${port}: Factory Diagnostic Firmware answers; BASE64_MTU=32\n`);
}, 20_000);

test("probe of a missing port and bad simulator flags fail with advice", async () => {
  const missing = await swtool(["device", "probe", "--port", "/dev/ttyDOESNOTEXIST"]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain("cannot open /dev/ttyDOESNOTEXIST");
  expect(missing.stderr).toContain("fix: check the port name with `swtool ports`");
  const bad = await swtool(["device", "simulate", "--faults", "drop,explode"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('unknown fault "explode"');
});

test("ports lists without failing; ledger prints and exports what the line recorded", async () => {
  const ports = await swtool(["ports", "--json"]);
  expect(ports.code).toBe(0);
  // The binary lists what /sys/class/tty holds, each port once, as the library reads it here.
  const listed = JSON.parse(ports.stdout) as { path: string }[];
  expect(listed).toEqual(JSON.parse(JSON.stringify(listLinuxPorts())));
  expect(listed.every((p) => p.path.startsWith("/dev/tty"))).toBe(true);
  expect(new Set(listed.map((p) => p.path)).size).toBe(listed.length);
  const dir = tempDir();
  await runStation({ transport: "pty" }, { count: 2, dir });
  const db = join(dir, "swtool.db");
  const csv = await swtool(["ledger", "--ledger", db, "--csv", "--status", "provisioned"]);
  expect(csv.code).toBe(0);
  const lines = csv.stdout.trim().split("\n");
  expect(lines[0]).toBe("id,startedAt,finishedAt,port,dsn,smsn,apid,stage,result,failedStep,error,errorCode,deviceAnswer,controlLog,hsmSerial,dak,host,pid,pidStart,station,operator,workOrder");
  expect(lines.length).toBe(3);
  expect(lines[1]).toContain(",SN0000001,");
  const text = await swtool(["ledger", "--ledger", db, "--since", "1h"]);
  expect(text.stdout).toContain("2 attempts");
  const none = await swtool(["ledger", "--ledger", join(dir, "nope.db")]);
  expect(none.code).toBe(2);
}, 30_000);
