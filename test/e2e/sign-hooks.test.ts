// --on-device-done / --on-device-failed / --hook-timeout in batch and one-shot runs, through
// the compiled binary: the hook gets on stdin the very record --json prints for that mode; a
// failing hook is reported (hook-failed) and a hanging one killed at the timeout, neither
// changing a device's result or the exit code. And the line's --max-consecutive-failures over
// a real pty with the simulator failing every board.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../src/lib/bytes.ts";
import { CURVES, computeSmsn, encodeCsr, makeCsr, toBase64, type Curve } from "../../src/sidewalk/index.ts";
import { deviceFixtures, swtool } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";
import { conforms, type Schema } from "../helpers/events.ts";

let hsm: LoadedHsm;
const fixtures = deviceFixtures();
beforeAll(async () => {
  hsm = await startLoadedHsm("TEST_DAK_HOOKS");
});
afterAll(async () => {
  await fixtures.stopAll();
  await hsm.stop();
});

const env = { SWTOOL_HSM_PIN: TEST_PIN };
const records = (text: string) => text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
const envelope = (mode: string) => ({ schema: "swtool.sign.event", version: 2, time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), mode });
const smsnOf = (dsn: string) => computeSmsn({ deviceType: DEVICE_TYPE, dsn, apid: APID, stage: "test" });
const csrArgs = (smsn: Uint8Array) => {
  const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
  const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
  return ["--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1")];
};
const sign = () => ["sign", "-p", hsm.productTag, "-c", hsm.url];

/** A batch file of CSR rows; `wrongSmsn` rows carry CSRs made for another device. */
function batchFile(dir: string, dsns: string[], wrongSmsn: string[] = []): string {
  const csv = join(dir, "batch.csv");
  const rows = dsns.map((dsn) => {
    const args = csrArgs(smsnOf(wrongSmsn.includes(dsn) ? `${dsn}X` : dsn));
    return `${dsn},${args[1]},${args[3]}`;
  });
  writeFileSync(csv, ["dsn,eddsa_csr,ecdsa_csr", ...rows].join("\n") + "\n");
  return csv;
}
const batch = (dir: string, csv: string) => [...sign(), "--batch", csv, "-g", "-d", DEVICE_TYPE, "-a", APID, "-o", join(dir, "out"), "--control_log_dir", join(dir, "logs")];

describe("hooks in batch runs", () => {
  test("each row's --json record on the hook's stdin; a failing --on-device-failed hook is reported, the run's result stands", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "logs"));
    const csv = batchFile(dir, ["SNH0001", "SNH0002", "SNH0003"], ["SNH0002"]);
    const done = join(dir, "done.jsonl");
    const failed = join(dir, "failed.jsonl");
    const failHook = `cat >> '${failed}'; echo label printer offline >&2; exit 2`;
    const r = await swtool([...batch(dir, csv), "--json", "--on-device-done", `cat >> '${done}'`, "--on-device-failed", failHook], { env });
    expect(r.code).toBe(1);
    const out = records(r.stdout);
    // Hooks run beside the rows: the hook-failed record comes whenever the hook ends, before the summary.
    expect(out.filter((e) => e.type !== "hook-failed").map((e) => [e.type, e.row ?? null])).toEqual([["device-done", 2], ["device-failed", 3], ["device-done", 4], ["summary", null]]);
    expect(out.filter((e) => e.type === "hook-failed").length).toBe(1);
    const printed = (type: string) => out.filter((e) => e.type === type);
    // What the hooks read is, byte for byte, what --json printed. Hooks run beside each other,
    // so two rows' hooks may append to the file in either order.
    const byRow = (list: Record<string, unknown>[]) => [...list].sort((a, b) => Number(a.row) - Number(b.row));
    expect(byRow(records(readFileSync(done, "utf8")))).toEqual(printed("device-done"));
    expect(records(readFileSync(failed, "utf8"))).toEqual(printed("device-failed"));
    expect(printed("device-done")[0]).toEqual({
      ...envelope("batch"), type: "device-done", row: 2, dsn: "SNH0001", smsn: toHex(smsnOf("SNH0001")),
      output: join(dir, "out", "SNH0001.json"), controlLog: expect.stringMatching(new RegExp(`^${join(dir, "logs")}/C_CONTROL_LOG_\\d{14}(_\\d+)?\\.txt$`)),
    });
    expect(printed("device-failed")[0]).toEqual({ ...envelope("batch"), type: "device-failed", row: 3, dsn: "SNH0002", error: expect.stringContaining("SMSN") });
    expect(printed("hook-failed")[0]).toEqual({ ...envelope("batch"), type: "hook-failed", hook: failHook, dsn: "SNH0002", row: 3, error: "exit 2: label printer offline" });
    expect(out.at(-1)).toMatchObject({ type: "summary", rows: 3, signed: 2, failed: 1, notAttempted: 0 });
    const schema = JSON.parse((await swtool(["sign", "--json-schema"])).stdout) as Schema;
    for (const rec of out) expect(conforms(schema, rec)).toEqual([]);
  }, 60_000);

  test("a hook that hangs is killed at --hook-timeout; the batch signs every row and exits 0", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "logs"));
    const csv = batchFile(dir, ["SNH0101", "SNH0102"]);
    const t0 = performance.now();
    const r = await swtool([...batch(dir, csv), "--on-device-done", "sleep 60", "--hook-timeout", "1"], { env });
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code).toBe(0);
    expect(seconds).toBeLessThan(30);
    expect(r.stdout).toContain("batch: 2 signed, 0 failed of 2 rows");
    const warnings = r.stderr.split("\n").filter((l) => l.includes("hook "));
    expect(warnings.sort()).toEqual([
      `warn hook "sleep 60" for SNH0101: no end within 1 s (killed) (the device's result stands)`,
      `warn hook "sleep 60" for SNH0102: no end within 1 s (killed) (the device's result stands)`,
    ].map((w) => expect.stringContaining(w.slice(5))) as never);
  }, 60_000);
});

describe("hooks in one-shot runs", () => {
  test("--on-device-done reads the one --json record; a failing hook is reported and the exit code stays 0", async () => {
    const dir = tempDir();
    const seen = join(dir, "in.json");
    const hook = `cat > '${seen}'; exit 5`;
    const r = await swtool([...sign(), ...csrArgs(smsnOf("SNH0201")), "-g", "-d", DEVICE_TYPE, "--dsn", "SNH0201", "-a", APID, "--control_log_dir", dir, "--json", "--on-device-done", hook], { env });
    expect(r.code).toBe(0);
    const [record, failure, ...rest] = records(r.stdout);
    expect(rest).toEqual([]);
    expect(record).toEqual({
      ...envelope("one"), type: "device-done", smsn: toHex(smsnOf("SNH0201")), dsn: "SNH0201",
      signingOutput: expect.objectContaining({ label: "test" }), controlLog: expect.stringMatching(new RegExp(`^${dir}/C_CONTROL_LOG_\\d{14}(_\\d+)?\\.txt$`)),
    });
    expect(JSON.parse(readFileSync(seen, "utf8"))).toEqual(record!);
    expect(failure).toEqual({ ...envelope("one"), type: "hook-failed", hook, dsn: "SNH0201", smsn: toHex(smsnOf("SNH0201")), error: "exit 5" });
  }, 30_000);

  test("--on-device-failed gets the device-failed record; the run fails as it would without the hook", async () => {
    const dir = tempDir();
    const seen = join(dir, "failed.json");
    const args = [...sign(), ...csrArgs(smsnOf("OTHER")), "-g", "-d", DEVICE_TYPE, "--dsn", "SNH0301", "-a", APID];
    const without = await swtool(args, { env });
    const r = await swtool([...args, "--on-device-failed", `cat > '${seen}'`], { env });
    expect(without.code).toBe(1);
    expect(r.code).toBe(without.code);
    expect(r.stderr).toBe(without.stderr);
    const error = without.stderr.split("\n")[0]!.replace(/^error: /, "");
    expect(JSON.parse(readFileSync(seen, "utf8"))).toEqual({ ...envelope("one"), type: "device-failed", smsn: toHex(smsnOf("SNH0301")), dsn: "SNH0301", error });
    // With --json the same record is printed, and the hook reads exactly it.
    const json = await swtool([...args, "--json", "--on-device-failed", `cat > '${seen}'`], { env });
    expect(json.code).toBe(1);
    const [printed, ...after] = records(json.stdout);
    expect(printed).toEqual(JSON.parse(readFileSync(seen, "utf8")));
    expect(printed).toMatchObject({ type: "device-failed", mode: "one", error });
    // Then the error itself, as the run's last record in the same schema.
    const advice = without.stderr.split("\n")[1]!.replace(/^  fix: /, "");
    expect(after).toEqual([{ ...envelope("one"), type: "error", message: error, advice, exitCode: 1 }]);
    const schema = JSON.parse((await swtool(["sign", "--json-schema"])).stdout) as Schema;
    for (const rec of [printed!, ...after]) expect(conforms(schema, rec)).toEqual([]);
  }, 30_000);

  test("a hanging hook is killed at --hook-timeout; the device stands", async () => {
    const dir = tempDir();
    const out = join(dir, "out.json");
    const t0 = performance.now();
    const r = await swtool([...sign(), ...csrArgs(smsnOf("SNH0401")), "-g", "-d", DEVICE_TYPE, "--dsn", "SNH0401", "-a", APID, "-o", out, "--on-device-done", "sleep 60", "--hook-timeout", "1"], { env });
    expect(r.code).toBe(0);
    expect((performance.now() - t0) / 1000).toBeLessThan(30);
    expect(r.stderr).toContain(`hook "sleep 60" for SNH0401: no end within 1 s (killed) (the device's result stands)`);
    expect(JSON.parse(readFileSync(out, "utf8")).label).toBe("test");
  }, 30_000);
});

describe("the line: boards failing in a row", () => {
  test("every board fails at cert smsn: the fixture stops after --max-consecutive-failures 3, the line ends with exit 1 and its summary", async () => {
    const port = await fixtures.fixture("--error-at", "cert smsn=-11");
    const dir = tempDir();
    const r = await swtool([
      "sign", "--port", port, "-p", hsm.productTag, "-c", hsm.url, "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
      "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", "--json", "--max-consecutive-failures", "3",
    ], { env });
    expect(r.code).toBe(1);
    const out = records(r.stdout);
    const schema = JSON.parse((await swtool(["sign", "--json-schema"])).stdout) as Schema;
    for (const rec of out) expect(conforms(schema, rec)).toEqual([]);
    expect(out.filter((e) => e.type === "device-failed").map((e) => [e.dsn, e.step])).toEqual([["SN0000001", "smsn"], ["SN0000002", "smsn"], ["SN0000003", "smsn"]]);
    const stop = out.find((e) => e.type === "fixture-stopped")!;
    expect(stop).toEqual({ ...envelope("line"), type: "fixture-stopped", port, failures: 3, last: expect.stringMatching(/^smsn: the device answered `cert smsn .*` with ERROR -11 INVALID_ARGS$/), message: expect.any(String) });
    expect(stop.message).toBe(`fixture ${port}: 3 boards failed in a row (last: ${stop.last}); check the fixture and firmware, then restart`);
    expect(out.at(-1)).toMatchObject({ type: "summary", provisioned: 0, failed: 3, stoppedBy: "failures", perPort: { [port]: { provisioned: 0, failed: 3, stopped: stop.message } } });
  }, 60_000);

  test("by default a fixture stops after 5 boards in a row failed", async () => {
    const port = await fixtures.fixture("--error-at", "cert csr \"ed25519\"=-1");
    const dir = tempDir();
    const r = await swtool([
      "sign", "--port", port, "-p", hsm.productTag, "-c", hsm.url, "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
      "--control_log_dir", dir, "--dsn-template", "SN{seq:7}",
    ], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${port} STOPPED: fixture ${port}: 5 boards failed in a row \\(last: csr-ed25519: .*ERROR -1 .*\\); check the fixture and firmware, then restart\n`));
    expect(r.stdout).toContain("0 provisioned, 5 failed, 0 refused");
    expect(r.stdout).toContain("stopped by failures");
  }, 60_000);

  test("--max-consecutive-failures must be a whole number", async () => {
    const r = await swtool(["sign", "--port", "/dev/null", "-p", hsm.productTag, "-c", hsm.url, "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY), "--control_log_dir", tempDir(), "--dsn-template", "SN{seq:7}", "--max-consecutive-failures", "many"], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--max-consecutive-failures");
  }, 30_000);
});
