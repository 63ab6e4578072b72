// The line's machine and operator interfaces through the compiled binary: the versioned event
// schema (`sign --json-schema`) that every --json record follows, hooks that fail without
// changing a device's result, SIGTERM handled like Ctrl-C, `--next-device prompt --dsn-scan`
// through stdin, `--transcript` (every line to and from a fixture, noise included), and
// the start-up refusals (an unopenable port, an APID the profile's DAK
// does not have).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../src/lib/bytes.ts";
import { CURVES, computeSmsn, encodeCsr, makeCsr, toBase64, type Curve } from "../../src/sidewalk/index.ts";
import { deviceFixtures, swtool, swtoolCommand } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";
import { conforms, type Schema } from "../helpers/events.ts";
import { NOISE_LINES } from "../../src/device/simulator/shell.ts";

let hsm: LoadedHsm;
const fixtures = deviceFixtures();
const fixture = fixtures.fixture;
beforeAll(async () => {
  hsm = await startLoadedHsm("TEST_DAK_LINECLI");
});
afterAll(async () => {
  await fixtures.stopAll();
  await hsm.stop();
});

const line = (port: string, dir: string, ...more: string[]) => [
  "sign", "--port", port, "-p", hsm.productTag, "-c", hsm.url,
  "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
  "--control_log_dir", dir, "--json", ...more,
];
const env = { SWTOOL_HSM_PIN: TEST_PIN };
const records = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

/** Reads --json records from a running station, one by one, as they come. */
function eventReader(stdout: ReadableStream<Uint8Array>) {
  const reader = stdout.getReader();
  const all: Record<string, unknown>[] = [];
  let seen = 0;
  let partial = "";
  return {
    all,
    /** Resolves with the first record after the last one returned that matches. */
    async until(match: (e: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
      for (;;) {
        while (seen < all.length) {
          const e = all[seen++]!;
          if (match(e)) return e;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`the station ended first: ${JSON.stringify(all)}`);
        partial += new TextDecoder().decode(value);
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) if (l.trim()) all.push(JSON.parse(l) as Record<string, unknown>);
      }
    },
  };
}

describe("machine interface", () => {
  test("sign --json-schema prints the schema, and every record of a line run follows it; a failing hook is reported, the devices stand", async () => {
    const schemaRun = await swtool(["sign", "--json-schema"]);
    expect(schemaRun.code).toBe(0);
    const schema = JSON.parse(schemaRun.stdout) as Schema;
    expect(schema).toMatchObject({ $id: expect.stringContaining("sign-events-v2"), title: "swtool sign --json events, version 2" });
    expect(JSON.parse(readFileSync(join(import.meta.dir, "../../schemas/sign-events.schema.json"), "utf8"))).toEqual(schema);

    const port = await fixture();
    const dir = tempDir();
    const seen = join(dir, "hook-input.jsonl");
    const r = await swtool(line(port, dir, "--dsn-template", "SN{seq:7}", "--count", "2", "--on-device-done", `cat >> '${seen}'; echo printer offline >&2; exit 3`), { env });
    expect(r.code).toBe(0);
    const all = records(r.stdout);
    for (const rec of all) expect(conforms(schema, rec)).toEqual([]);
    expect(all.every((rec) => rec.mode === "line")).toBe(true);
    expect(all.filter((e) => e.type === "device-done").map((e) => e.dsn)).toEqual(["SN0000001", "SN0000002"]);
    const hookFailures = all.filter((e) => e.type === "hook-failed");
    expect(hookFailures.map((e) => [e.dsn, e.error])).toEqual([
      ["SN0000001", "exit 3: printer offline"],
      ["SN0000002", "exit 3: printer offline"],
    ]);
    expect(all.at(-1)).toMatchObject({ type: "summary", provisioned: 2, failed: 0 });
    // The hook got the device's own record on stdin.
    const inputs = readFileSync(seen, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(inputs.map((i) => [i.type, i.dsn, i.schema])).toEqual([
      ["device-done", "SN0000001", "swtool.sign.event"],
      ["device-done", "SN0000002", "swtool.sign.event"],
    ]);
  }, 60_000);
});

describe("one schema for every mode", () => {
  test("a one-shot --json run prints one device-done record of the schema, the signing output in it", async () => {
    const schema = JSON.parse((await swtool(["sign", "--json-schema"])).stdout) as Schema;
    const smsn = computeSmsn({ deviceType: DEVICE_TYPE, dsn: "SN0000042", apid: APID, stage: "test" });
    const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
    const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
    const dir = tempDir();
    const r = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1"), "-a", APID, "--control_log_dir", dir, "--json"], { env });
    expect(r.code).toBe(0);
    const all = records(r.stdout);
    expect(all.length).toBe(1);
    expect(conforms(schema, all[0]!)).toEqual([]);
    expect(all[0]).toMatchObject({ type: "device-done", mode: "one", smsn: toHex(smsn), controlLog: expect.stringContaining("C_CONTROL_LOG_") });
    expect((all[0]!.signingOutput as { label: string }).label).toBe("test");
  }, 30_000);
});

describe("operator control", () => {
  // SIGTERM: a service manager stops the line; SIGHUP: the operator's terminal closed.
  test.each(["SIGTERM", "SIGHUP"] as const)("%s is handled like Ctrl-C: the device in flight finishes, the run ends with its summary", async (signal) => {
    const port = await fixture("--realistic");
    const dir = tempDir();
    const station = Bun.spawn([...swtoolCommand(), ...line(port, dir, "--dsn-template", "SN{seq:7}")], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const events = eventReader(station.stdout);
    await events.until((e) => e.type === "step" && e.step === "chain-ed25519");
    station.kill(signal);
    await events.until((e) => e.type === "summary");
    expect(await station.exited).toBe(0);
    const all = events.all;
    expect(all.find((e) => e.type === "stopping")).toMatchObject({ reason: "signal", inFlight: 1, message: "stopping: finishing 1 device (Ctrl-C again to abort them)" });
    expect(all.at(-1)).toMatchObject({ type: "summary", provisioned: 1, failed: 0, stoppedBy: "signal" });
  }, 60_000);

  test("--next-device prompt: one Enter per board; an Enter pressed while the board is in flight is dropped (said so), not kept to start it again", async () => {
    const port = await fixture("--realistic", "--swap-ms", "0");
    const dir = tempDir();
    const station = Bun.spawn([...swtoolCommand(), ...line(port, dir, "--dsn-template", "SN{seq:7}", "--count", "2", "--next-device", "prompt")], { env: { ...process.env, ...env }, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const events = eventReader(station.stdout);
    const enter = () => {
      station.stdin.write("\n");
      station.stdin.flush();
    };
    const waitingForEnter = (e: Record<string, unknown>) => e.type === "waiting" && e.for === "enter";
    await events.until(waitingForEnter);
    enter();
    await events.until((e) => e.type === "step" && e.step === "sign");
    // The board is in flight: nobody waits for this Enter.
    enter();
    await events.until((e) => e.type === "warning");
    await events.until(waitingForEnter);
    enter();
    await events.until((e) => e.type === "summary");
    station.stdin.end();
    expect(await station.exited).toBe(0);
    const all = events.all;
    expect(all.filter((e) => e.type === "warning").map((e) => e.message)).toEqual(["Enter ignored: no fixture is waiting"]);
    expect(all.filter((e) => e.type === "device-start").map((e) => e.dsn)).toEqual(["SN0000001", "SN0000002"]);
    expect(all.filter((e) => e.type === "device-done").map((e) => e.dsn)).toEqual(["SN0000001", "SN0000002"]);
    // Two different boards: the first was not started again.
    const smsns = all.filter((e) => e.type === "device-done").map((e) => e.smsn);
    expect(new Set(smsns).size).toBe(2);
    expect(all.at(-1)).toMatchObject({ type: "summary", provisioned: 2, failed: 0, refused: 0, stoppedBy: "count" });
  }, 60_000);

  test("--next-device prompt --dsn-scan: each scanned line is the board's DSN, one already provisioned is refused", async () => {
    const port = await fixture();
    const dir = tempDir();
    const r = await swtool(line(port, dir, "--next-device", "prompt", "--dsn-scan"), { env, stdin: "SCAN0001\nSCAN0001\nSCAN0002\n" });
    const all = records(r.stdout);
    expect(all.filter((e) => e.type === "device-done").map((e) => e.dsn)).toEqual(["SCAN0001", "SCAN0002"]);
    expect(all.find((e) => e.type === "refused")).toMatchObject({ dsn: "SCAN0001", reason: expect.stringContaining("DSN SCAN0001 was provisioned") });
    expect(all.filter((e) => e.type === "waiting").map((e) => e.for)).toContain("dsn-scan");
    expect(all.at(-1)).toMatchObject({ type: "summary", provisioned: 2, refused: 1 });
    expect(r.code).toBe(1);
  }, 60_000);
});

describe("transcript", () => {
  test("--transcript FILE: appended, every line to and from the fixture for the one device (noise included), each with time, port and direction", async () => {
    const port = await fixture("--noise", "--noise-rate", "0.5", "--count", "1");
    const dir = tempDir();
    const file = join(dir, "line.transcript");
    writeFileSync(file, "an earlier run's last line\n");
    const r = await swtool(line(port, dir, "--dsn", "SN0000007", "--transcript", file), { env });
    expect(r.code).toBe(0);
    const done = records(r.stdout).find((e) => e.type === "device-done")!;
    const [earlier, ...lines] = readFileSync(file, "utf8").split("\n").slice(0, -1);
    expect(earlier).toBe("an earlier run's last line");
    const parsed = lines.map((l) => {
      const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) (tx|rx|--) (.*)$/.exec(l);
      if (!m) throw new Error(`not a transcript line: ${JSON.stringify(l)}`);
      expect(m[2]).toBe(port);
      return { direction: m[3]!, text: m[4]! };
    });
    const of = (d: string) => parsed.filter((p) => p.direction === d).map((p) => p.text);
    // The station's notes: the one board, started and passed.
    expect(of("--")).toEqual([`SN0000007 started (SMSN ${done.smsn})`, expect.stringMatching(new RegExp(`^PASS SN0000007 in \\d+\\.\\d s -> ${String(done.controlLog).replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`))]);
    // Every command sent, once: the device echoed each, in order.
    const commands = of("tx").filter((t) => t.startsWith("cert "));
    expect(commands.filter((c) => c === "cert init" || c === "cert store" || c === "cert deinit")).toEqual(["cert init", "cert store", "cert deinit"]);
    expect(of("rx").filter((t) => t.startsWith("--> ")).map((t) => t.slice(4))).toEqual(commands);
    expect(of("tx").filter((t) => !t.startsWith("cert ")).every((t) => /^sync-[0-9a-f]{8}$/.test(t))).toBe(true);
    // Every line received is an echo, a probe's answer, a CERT answer or the simulator's noise
    // (colour codes written as \x1b); the noise is there.
    const noise = new RegExp(`^(\\\\x1b\\[1;33m)?\\[\\d{8}\\] (${NOISE_LINES.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})(\\\\x1b\\[0m)?$`);
    const answer = /^\[\d{8}\] <info> app: \{CERT (OK|BASE64_MTU=\d+|<[A-Za-z0-9+/=]+>)\}$/;
    const probe = /^sync-[0-9a-f]{8}(: command not found)?$/;
    expect(of("rx").filter((t) => !t.startsWith("--> ") && !noise.test(t) && !answer.test(t) && !probe.test(t))).toEqual([]);
    expect(of("rx").filter((t) => noise.test(t)).length).toBeGreaterThan(5);
    expect(of("rx").some((t) => t.startsWith("\\x1b[1;33m["))).toBe(true);
  }, 60_000);

  test("--transcript in a folder that does not exist: exit 2 naming it, before the HSM is asked", async () => {
    const dir = tempDir();
    const args = ["sign", "--port", "/dev/null", "-p", "TEST_DAK_LINECLI", "-c", "http://127.0.0.1:1", "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY), "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", "--transcript", join(dir, "no-such-folder", "t.txt")];
    const r = await swtool(args, { env });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([`error: --transcript ${join(dir, "no-such-folder", "t.txt")}: cannot open it for appending (ENOENT)`, "  fix: give a file in a folder that exists and that you may write"]);
  }, 30_000);
});

describe("help", () => {
  test("sign --help: --port names every kind of fixture port, usb:SERIAL included", async () => {
    const r = await swtool(["sign", "--help"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const start = lines.findIndex((l) => l.startsWith("  --port "));
    const end = lines.findIndex((l, i) => i > start && l.trimStart().startsWith("-"));
    expect(lines.slice(start, end).map((l) => l.trim()).join(" ").replace(/\s+/g, " ")).toBe(
      "--port <value> Fixture port: /dev/ttyUSB0, COM3, usb:SERIAL (the adapter's USB serial number, as `swtool ports` lists it; found again after re-enumeration) or socket://host:port (repeat for more fixtures)",
    );
  }, 30_000);
});

describe("start-up refusals", () => {
  test("a --port that cannot be opened: exit 2 naming it and --allow-missing-fixtures", async () => {
    const dir = tempDir();
    const r = await swtool(line("/dev/swtool-no-such-port", dir, "--dsn-template", "SN{seq:7}").filter((a) => a !== "--json"), { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("cannot open fixture port /dev/swtool-no-such-port");
    expect(r.stderr).toContain("--allow-missing-fixtures");
  }, 30_000);

  test("--apid that is not the device profile's DAK ApId: exit 2 before the HSM is asked", async () => {
    const dir = tempDir();
    const profile = join(dir, "profile.json");
    writeFileSync(profile, JSON.stringify({ Sidewalk: { ApplicationServerPublicKey: toHex(APP_KEY), DakCertificateMetadata: [{ ApId: "pd25", MaxAllowedSignature: 1000 }] } }));
    const args = ["sign", "--port", "/dev/null", "-p", hsm.productTag, "-c", "http://127.0.0.1:1", "--device_type", DEVICE_TYPE, "--apid", "zz99", "--device_profile_json", profile, "--control_log_dir", dir, "--dsn-template", "SN{seq:7}"];
    const r = await swtool(args, { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--apid zz99 does not match the device profile's DAK ApId pd25 (${profile})`);
  }, 30_000);
});
