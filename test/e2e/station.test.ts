// The production line through the compiled binary: `swtool sign --port socket://...` against
// `swtool device simulate` (TCP) and the HSM simulator over HTTP, with --json events for the
// MES; then a station killed with SIGKILL in the middle of a device, and the next start of the
// station closing the attempt it left open (recorded as failed, the device provisioned again).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { deviceFixtures, readUntil, swtool, swtoolCommand } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";

let hsm: LoadedHsm;
const fixtures = deviceFixtures();
const fixture = fixtures.fixture;
beforeAll(async () => {
  hsm = await startLoadedHsm("TEST_DAK_STATION");
});
afterAll(async () => {
  await fixtures.stopAll();
  await hsm.stop();
});

const stationArgs = (port: string, dir: string) => [
  "sign", "--port", port, "-p", hsm.productTag, "-c", hsm.url,
  "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
  "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", "--dsn-start", "1", "--json",
];
const env = { SWTOOL_HSM_PIN: TEST_PIN };
const events = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
const logsIn = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("C_CONTROL_LOG_"));

describe("swtool sign --port (compiled binary)", () => {
  test("provisions 3 devices over socket://, one control log each, JSON events and a summary", async () => {
    const port = await fixture();
    const dir = tempDir();
    const r = await swtool([...stationArgs(port, dir), "--count", "3"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const all = events(r.stdout);
    expect(all.filter((e) => e.type === "device-done").map((e) => e.dsn)).toEqual(["SN0000001", "SN0000002", "SN0000003"]);
    expect(all.at(-1)).toMatchObject({ type: "summary", provisioned: 3, failed: 0, refused: 0, stoppedBy: "count" });
    expect(logsIn(dir)).toHaveLength(3);
    const ledger = await openLedger(join(dir, "swtool.db"));
    expect((await ledger.list()).map((a) => [a.dsn, a.result])).toEqual([
      ["SN0000001", "provisioned"],
      ["SN0000002", "provisioned"],
      ["SN0000003", "provisioned"],
    ]);
    await ledger.close();
  }, 60_000);

  test("killed mid-device: the next start records the open attempt as failed and goes on without reusing its DSN", async () => {
    // Realistic pacing makes a device take about a second, so the kill lands inside one.
    const port = await fixture("--realistic", "--swap-ms", "0");
    const dir = tempDir();
    const station = Bun.spawn([...swtoolCommand(), ...stationArgs(port, dir)], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const { reader } = await readUntil(station.stdout, '"step":"chain-ed25519"');
    station.kill("SIGKILL");
    await station.exited;
    expect(logsIn(dir)).toEqual([]);
    const before = await openLedger(join(dir, "swtool.db"));
    expect((await before.list()).map((a) => [a.dsn, a.result])).toEqual([["SN0000001", "in-progress"]]);
    expect((await before.orphanedAttempts()).map((a) => a.dsn)).toEqual(["SN0000001"]);
    await before.close();

    const restart = await swtool([...stationArgs(port, dir), "--count", "1"], { env });
    expect(restart.code).toBe(0);
    const all = events(restart.stdout);
    const warning = all.find((e) => e.type === "warning");
    expect(warning?.message).toMatch(/^attempt 1 \(DSN SN0000001, port socket:\/\/127\.0\.0\.1:\d+, started .+\) was cut off when swtool stopped; the device did not finish; recorded as failed: provision that device again$/);
    expect(all.filter((e) => e.type === "device-done").map((e) => e.dsn)).toEqual(["SN0000002"]);
    const after = await openLedger(join(dir, "swtool.db"));
    const attempts = (await after.list());
    expect(attempts.map((a) => [a.dsn, a.result, a.failedStep ?? null])).toEqual([
      ["SN0000001", "failed", "interrupted"],
      ["SN0000002", "provisioned", null],
    ]);
    expect((await after.orphanedAttempts())).toEqual([]);
    await after.close();
    expect(logsIn(dir)).toHaveLength(1);
  }, 60_000);
});
