// SESSIONS_FULL at start, through the compiled binary and the HSM simulator over HTTP: an HSM
// whose 16 sessions are all held (by another line PC, or by a killed run of this station whose
// sessions live on the device until their idle timeout) is waited for with one operator line
// every few seconds, never a failed start. The line then provisions every device with no DSN
// gap; a one-shot sign gives up after --hsm-wait with one line and exit 1; Ctrl-C ends the wait
// with exit 130; with two HSMs the start waits for the full one. Nothing is signed while waiting.
// Mid-run, line processes asking together for more sessions than the HSM has get fewer, and no device fails.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { echo } from "../../src/hsm/commands/echo.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { Connector } from "../../src/hsm/transport.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { CURVES, computeSmsn, encodeCsr, makeCsr, toBase64, type Curve } from "../../src/sidewalk/index.ts";
import { loadTestChain } from "../../src/signer/hsm/index.ts";
import { deviceFixtures, readUntil, spawnSwtoolServer, swtool, swtoolCommand } from "../helpers/cli.ts";
import { TEST_PIN } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";
import { anotherDak, makeProductPki } from "../../src/sidewalk/pki.ts";

const TAG = "TEST_DAK_FULL";
const env = { SWTOOL_HSM_PIN: TEST_PIN };
const PRODUCT = makeProductPki();
const fixtures = deviceFixtures();
const sims: HsmSimulator[] = [];
const simulators: ReturnType<typeof Bun.spawn>[] = [];
afterAll(async () => {
  await fixtures.stopAll();
  for (const p of simulators) p.kill();
  await Promise.all(simulators.map((p) => p.exited));
  await Promise.all(sims.map((s) => s.stop()));
});

async function loadedHsm(idleTimeoutMs?: number): Promise<HsmSimulator> {
  const sim = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none", ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });
  sims.push(sim);
  // Every HSM here holds a DAK of one product, so two of them can serve one line.
  await loadTestChain({ connector: sim.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
  return sim;
}

/** Another client (line PC) taking `n` sessions of the HSM. */
async function hold(url: string, n: number): Promise<HsmSession[]> {
  const connector = new Connector({ url });
  const out: HsmSession[] = [];
  for (let i = 0; i < n; i++) out.push(await HsmSession.open(connector, 5, deriveAuthKey(TEST_PIN)));
  return out;
}

const waitingLine = (url: string) => `HSM ${url} has no free session (all 16 held); waiting — another line PC or a previous run holds them; sessions time out after 30 s`;
const line = (url: string | string[], port: string, dir: string, ...more: string[]) => [
  "sign", "--port", port, "-p", TAG, ...[url].flat().flatMap((u) => ["-c", u]),
  "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
  "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", "--dsn-start", "1", "--json", ...more,
];
const ledgerRows = async (dir: string) => {
  const ledger = await openLedger(join(dir, "swtool.db"));
  try {
    return (await ledger.list()).map((a) => [a.dsn, a.result]);
  } finally {
    await ledger.close();
  }
};
const logsIn = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("C_CONTROL_LOG_"));
// consola draws a warning as "\n WARN  text\n\n" (fancy reporter), or as "[warn] text\n" where
// it detects CI (basic reporter, as std-env reads CI); swtool's words are the same either way.
const IN_CI = !!process.env.CI && process.env.CI !== "false";
const warned = (text: string) => (IN_CI ? `[warn] ${text}\n` : `\n WARN  ${text}\n\n`);
const lines = (stderr: string, url: string) => stderr.split("\n").filter((l) => l.includes(waitingLine(url)));
const provisioned = (n: number) => Array.from({ length: n }, (_, i) => [`SN000000${i + 1}`, "provisioned"]);

describe("SESSIONS_FULL at start", () => {
  test("all 16 held by another client, released after 2 s: the line waits with one line, then provisions every device, no DSN gap", async () => {
    const hsm = await loadedHsm();
    const others = await hold(hsm.url, 16);
    const release = Bun.sleep(2000).then(() => Promise.all(others.map((s) => s.close())));
    const port = await fixtures.fixture();
    const dir = tempDir();
    const r = await swtool([...line(hsm.url, port, dir), "--count", "3"], { env });
    await release;
    expect(r.code).toBe(0);
    // Waited about 2 s: told once at once, then at most every 5 s.
    expect(lines(r.stderr, hsm.url).length).toBe(1);
    expect(await ledgerRows(dir)).toEqual(provisioned(3));
    expect(logsIn(dir)).toHaveLength(3);
  }, 60_000);

  test("Ctrl-C while waiting: exit 130, no DSN taken, nothing signed", async () => {
    const hsm = await loadedHsm();
    const others = await hold(hsm.url, 16);
    const port = await fixtures.fixture();
    const dir = tempDir();
    const station = Bun.spawn([...swtoolCommand(), ...line(hsm.url, port, dir)], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const waiting = await readUntil(station.stderr, "sessions time out after 30 s");
    const reader = waiting.reader;
    let seen = waiting.seen;
    station.kill("SIGINT");
    expect(await station.exited).toBe(130);
    for (let r = await reader.read(); !r.done; r = await reader.read()) seen += new TextDecoder().decode(r.value);
    expect(seen).toBe(`${warned(waitingLine(hsm.url))}error: stopped while waiting for a free session of HSM ${hsm.url}; nothing was signed\n`);
    expect(existsSync(join(dir, "swtool.db")) ? await ledgerRows(dir) : []).toEqual([]);
    expect(logsIn(dir)).toEqual([]);
    await Promise.all(others.map((s) => s.close()));
  }, 30_000);

  test("kill -9 of a station holding sessions, restarted at once: the restart waits for the dead run's sessions to time out, then runs", async () => {
    // Idle timeout 3 s instead of the device's 30 s (`hsm simulate --session-timeout`).
    const hsm = await loadedHsm(3000);
    const port = await fixtures.fixture("--realistic", "--swap-ms", "0");
    const dir = tempDir();
    const station = Bun.spawn([...swtoolCommand(), ...line(hsm.url, port, dir, "--sessions", "4")], { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    await readUntil(station.stdout, '"type":"device-start"');
    const mine = hsm.device.sessions.inUse;
    expect(mine).toBeGreaterThan(0);
    // Another line PC holds the rest, and keeps them alive: only the dead run's sessions free up.
    const others = await hold(hsm.url, 16 - mine);
    const keepAlive = setInterval(() => others.forEach((s) => void s.send(echo, new Uint8Array([1])).catch(() => {})), 500);
    station.kill("SIGKILL");
    await station.exited;
    expect(hsm.device.sessions.inUse).toBe(16);
    const started = Date.now();
    const restart = await swtool([...line(hsm.url, port, dir), "--count", "2"], { env });
    clearInterval(keepAlive);
    expect(restart.code).toBe(0);
    expect(lines(restart.stderr, hsm.url).length).toBe(1);
    expect(Date.now() - started).toBeGreaterThan(2000);
    const rows = await ledgerRows(dir);
    // The killed run's attempt (SN0000001) is closed by the restart (failed, or provisioned if it
    // had finished); the restart takes the next DSNs, no gap.
    expect(rows[0]![0]).toBe("SN0000001");
    expect(["failed", "provisioned"]).toContain(rows[0]![1]!);
    expect(rows.slice(1)).toEqual([["SN0000002", "provisioned"], ["SN0000003", "provisioned"]]);
    expect(restart.stderr).toBe(`${warned(waitingLine(hsm.url))}`);
    await Promise.all(others.map((s) => s.close()));
  }, 60_000);

  test("one-shot sign with all 16 held past --hsm-wait 2: one line, exit 1, nothing signed", async () => {
    const hsm = await loadedHsm();
    const others = await hold(hsm.url, 16);
    const smsn = computeSmsn({ deviceType: DEVICE_TYPE, dsn: "SN0000042", apid: APID, stage: "test" });
    const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
    const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
    const dir = tempDir();
    const r = await swtool(["sign", "-p", TAG, "-c", hsm.url, "--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1"), "-a", APID, "--control_log_dir", dir, "--hsm-wait", "2"], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(lines(r.stderr, hsm.url).length).toBe(1);
    expect(r.stderr).toBe(
      `${warned(waitingLine(hsm.url))}` +
        `error: HSM ${hsm.url} has no free session (all 16 held) after waiting 2 s; nothing was signed\n` +
        "  fix: another line PC or a previous run holds them (sessions time out after 30 s); stop it, or give a longer --hsm-wait\n",
    );
    expect(logsIn(dir)).toEqual([]);
    await Promise.all(others.map((s) => s.close()));
  }, 30_000);

  test("batch with all 16 held, released after 2 s within --hsm-wait 30: waits with one line, then signs every row", async () => {
    const hsm = await loadedHsm();
    const dir = tempDir();
    const keys = join(dir, "keys");
    expect((await swtool(["keygen", "--out-dir", keys, "--count", "2"])).code).toBe(0);
    const csv = join(dir, "batch.csv");
    const k = (i: number, c: string) => join(keys, `device-${i}_${c}.pem`);
    writeFileSync(csv, ["dsn,ed25519_private_key_file,p256r1_private_key_file", `SNB0001,${k(1, "ed25519")},${k(1, "p256r1")}`, `SNB0002,${k(2, "ed25519")},${k(2, "p256r1")}`].join("\n"));
    const others = await hold(hsm.url, 16);
    const release = Bun.sleep(2000).then(() => Promise.all(others.map((s) => s.close())));
    const out = join(dir, "out");
    const r = await swtool(["sign", "-p", TAG, "-c", hsm.url, "--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", out, "--hsm-wait", "30"], { env });
    await release;
    expect(r.code).toBe(0);
    expect(lines(r.stderr, hsm.url).length).toBe(1);
    expect(r.stdout).toContain("batch: 2 signed, 0 failed of 2 rows");
    expect(readdirSync(out).sort()).toEqual(["SNB0001.json", "SNB0002.json"]);
  }, 60_000);

  test("two HSMs, one full at start: the start waits for it (checked like the other), then the line provisions every device on both", async () => {
    const [a, b] = [await loadedHsm(), await loadedHsm()];
    const others = await hold(b.url, 16);
    const release = Bun.sleep(2000).then(() => Promise.all(others.map((s) => s.close())));
    const port = await fixtures.fixture();
    const dir = tempDir();
    const r = await swtool([...line([a.url, b.url], port, dir), "--count", "4"], { env });
    await release;
    expect(r.code).toBe(0);
    expect(lines(r.stderr, b.url).length).toBe(1);
    expect(lines(r.stderr, a.url)).toEqual([]);
    expect(await ledgerRows(dir)).toEqual(provisioned(4));
    // Both HSMs signed: the one that was full is in service like the other.
    const ledger = await openLedger(join(dir, "swtool.db"));
    const serials = new Set((await ledger.list()).map((a) => a.hsmSerial));
    await ledger.close();
    expect(serials.size).toBe(2);
  }, 60_000);
});

describe("SESSIONS_FULL mid-run", () => {
  test("three line processes asking one HSM for 8 sessions each while another client holds 8 (32 > 16): fewer sessions and back-off, no device fails", async () => {
    // Signatures take the device's time (121 ms Ed25519), so each line keeps several in flight.
    const hsm = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "yubihsm2" });
    sims.push(hsm);
    await loadTestChain({ connector: hsm.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
    // Another line PC holds half the HSM's sessions, and keeps them alive.
    const others = await hold(hsm.url, 8);
    const keepAlive = setInterval(() => others.forEach((o) => void o.send(echo, new Uint8Array([1])).catch(() => {})), 500);
    const stations = [];
    for (let i = 0; i < 3; i++) {
      const { proc, first } = await spawnSwtoolServer(["device", "simulate", "--listen", "127.0.0.1:0", "--fixtures", "8", "--swap-ms", "0", "--json"]);
      simulators.push(proc);
      const [port, ...more] = first.ports as string[];
      const dir = tempDir();
      stations.push({ dir, run: swtool([...line(hsm.url, port!, dir, "--sessions", "8", "--count", "16"), ...more.flatMap((p) => ["--port", p])], { env }) });
    }
    const runs = await Promise.all(stations.map((s) => s.run));
    clearInterval(keepAlive);
    await Promise.all(others.map((o) => o.close()));
    for (const r of runs) expect([r.code, r.stdout.trim().split("\n").at(-1)]).toEqual([0, expect.stringContaining('"provisioned":16')]);
    for (const s of stations) expect(await ledgerRows(s.dir)).toEqual(Array.from({ length: 16 }, (_, i) => [`SN${String(i + 1).padStart(7, "0")}`, "provisioned"]));
  }, 120_000);
});
