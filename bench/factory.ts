// A factory: 4 line-PC processes (`swtool sign --port ...`, 8 realistic fixtures each) sharing
// 2 HSM simulators with --latency yubihsm2 (different DAKs of one product, `-c A -c B`) and one
// PostgreSQL ledger (a private cluster started here). Phase 1 measures devices per hour with
// both HSMs against their combined limit (target >= 90 %); then one HSM is killed (SIGKILL)
// and phase 2 measures the rate with one (it should settle at one HSM's limit). At the end:
// duplicate DSNs and SMSNs among provisioned devices (target 0), failed devices (target 0),
// control-log files against provisioned rows.
// Usage: bun bench/factory.ts [--phase-seconds N]   (default 75; e.g. 600 for a long run)
import { SQL } from "bun";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEMO_APID, DEMO_APP_SERVER_KEY, DEMO_DEVICE_TYPE } from "../src/demo/demo.ts";
import { CMD } from "../src/hsm/protocol.ts";
import { commandLatencyMs } from "../src/hsm/simulator/latency.ts";
import { toHex } from "../src/lib/bytes.ts";
import { loadTestChain } from "../src/signer/hsm/index.ts";
import { findPostgres, startPostgres } from "../harness/postgres.ts";
import { numberArg, REPO, spawnHsmSimulator } from "./_lib.ts";
import { spawnDeviceSimulator } from "./_line.ts";
import { anotherDak, makeProductPki } from "../src/sidewalk/pki.ts";

const LINE_PCS = 4;
const FIXTURES = 8;
const PHASE_S = numberArg("phase-seconds", 75);
const WARMUP_S = 15;
const SETTLE_S = 10;
const TAG = "TEST_DAK_FACTORY";
const PIN = "bench-factory-pin";

const bin = findPostgres();
if (!bin) {
  console.log("factory bench skipped: no PostgreSQL (apt-get install postgresql)");
  process.exit(0);
}
const stops: (() => unknown)[] = [];
process.on("exit", () => {
  for (const s of stops.reverse()) {
    try {
      s();
    } catch {
      // Already gone.
    }
  }
});

const pg = await startPostgres(bin);
stops.push(() => Bun.spawnSync(["runuser", "-u", "postgres", "--", join(bin, "pg_ctl"), "-D", join(pg.dir, "data"), "-m", "immediate", "stop"]));
const ledgerUrl = await pg.createDatabase("factory");
const hsms = await Promise.all([spawnHsmSimulator("yubihsm2"), spawnHsmSimulator("yubihsm2")]);
for (const h of hsms) stops.push(() => process.kill(h.pid, "SIGKILL"));
// Two HSMs of one product, each with its own DAK (as Amazon supplies them).
const product = makeProductPki();
for (const h of hsms) await loadTestChain({ connector: h.url, productTag: TAG, pin: PIN, pki: anotherDak(product) });
const sims = await Promise.all(Array.from({ length: LINE_PCS }, () => spawnDeviceSimulator(["--realistic", "--fixtures", String(FIXTURES), "--swap-ms", "100"])));
for (const s of sims) stops.push(() => process.kill(s.pid));

const swtool = [process.execPath, join(REPO, "src", "main.ts")];
const events = { done: 0, failed: 0, refused: 0, warnings: [] as string[] };
const lines = sims.map((sim, i) => {
  const dir = mkdtempSync(join(tmpdir(), `bench-factory-line${i + 1}-`));
  const args = [
    "sign", "-p", TAG, "-c", hsms[0]!.url, "-c", hsms[1]!.url, "--sessions", "4",
    ...sim.ports.flatMap((p) => ["--port", p]),
    "-d", DEMO_DEVICE_TYPE, "-a", DEMO_APID, "--app_server_public_key", toHex(DEMO_APP_SERVER_KEY),
    "--dsn-template", "FA{seq:8}", "--control_log_dir", dir, "--ledger", ledgerUrl, "--station", `LINE-${i + 1}`, "--json",
  ];
  const proc = Bun.spawn([...swtool, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, SWTOOL_HSM_PIN: PIN, NO_COLOR: "1" } });
  stops.push(() => proc.kill("SIGKILL"));
  void (async () => {
    let rest = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      const parts = (rest + new TextDecoder().decode(chunk)).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as { type: string; message?: string };
        if (e.type === "device-done") events.done++;
        else if (e.type === "device-failed") events.failed++;
        else if (e.type === "refused") events.refused++;
        else if (e.type === "warning" && e.message) events.warnings.push(`LINE-${i + 1}: ${e.message}`);
      }
    }
  })();
  const stderr = new Response(proc.stderr as ReadableStream<Uint8Array>).text();
  return { proc, dir, stderr };
});

/** CPU seconds (user + system) a process has used, from /proc (0 once it is gone). */
const cpuSeconds = (pid: number) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
};
const pids = () => [...lines.map((l) => l.proc.pid), ...sims.map((s) => s.pid), ...hsms.map((h) => h.pid)];
const cpuOf = () => pids().reduce((sum, pid) => sum + cpuSeconds(pid), 0);
const cpuByRole = () => ({
  lines: lines.reduce((n, l) => n + cpuSeconds(l.proc.pid), 0),
  fixtures: sims.reduce((n, x) => n + cpuSeconds(x.pid), 0),
  hsms: hsms.reduce((n, h) => n + cpuSeconds(h.pid), 0),
});
const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ")[0];

/** Devices the line PCs reported done so far. */
const finishedSoFar = () => events.done;

const perDeviceMs = commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 64) + commandLatencyMs("yubihsm2", CMD.SIGN_ECDSA, 2 + 32);
const oneHsmPerHour = 3_600_000 / perDeviceMs;
const t0 = Date.now();
console.log(`${LINE_PCS} line PCs x ${FIXTURES} realistic fixtures, 2 HSMs (--latency yubihsm2, ${perDeviceMs} ms per device each), PostgreSQL ${ledgerUrl}`);
await Bun.sleep(WARMUP_S * 1000);
const cpu1 = cpuOf();
const roles1 = cpuByRole();
const done1 = events.done;
const load1 = loadAverage();
await Bun.sleep(PHASE_S * 1000);
const cpuBoth = (cpuOf() - cpu1) / PHASE_S;
const roles2 = cpuByRole();
const bothDevices = finishedSoFar() - done1;
const killedAt = Date.now();
process.kill(hsms[1]!.pid, "SIGKILL");
console.log(`t=${((killedAt - t0) / 1000).toFixed(0)} s: HSM 2 killed (SIGKILL)`);
await Bun.sleep((SETTLE_S + PHASE_S) * 1000);
const endAt = Date.now();
for (const l of lines) l.proc.kill("SIGINT");
const codes = await Promise.all(lines.map((l) => l.proc.exited));

const sql = new SQL({ url: ledgerUrl });
const finished = (await sql`SELECT finished_at, hsm_serial FROM attempts WHERE result = 'provisioned'`) as { finished_at: string; hsm_serial: string | null }[];
const rate = (from: number, to: number) => (finished.filter((r) => { const t = Date.parse(r.finished_at); return t >= from && t < to; }).length * 3_600_000) / (to - from);
const both = rate(t0 + WARMUP_S * 1000, killedAt);
const one = rate(killedAt + SETTLE_S * 1000, endAt);
const [dupDsn] = await sql`SELECT count(*)::int AS n FROM (SELECT dsn FROM attempts WHERE result = 'provisioned' GROUP BY dsn HAVING count(*) > 1) d`;
const [dupSmsn] = await sql`SELECT count(*)::int AS n FROM (SELECT smsn FROM attempts WHERE result = 'provisioned' GROUP BY smsn HAVING count(*) > 1) d`;
const [failedRows] = await sql`SELECT count(*)::int AS n FROM attempts WHERE result <> 'provisioned'`;
const failures = (await sql`SELECT station, port, dsn, failed_step, error, finished_at FROM attempts WHERE result <> 'provisioned' ORDER BY id`) as Record<string, string>[];
const perStation = (await sql`SELECT station, count(*)::int AS n FROM attempts WHERE result = 'provisioned' GROUP BY station ORDER BY station`) as { station: string; n: number }[];
const perHsm = (await sql`SELECT hsm_serial, count(*)::int AS n FROM attempts WHERE result = 'provisioned' GROUP BY hsm_serial ORDER BY n DESC`) as { hsm_serial: string; n: number }[];
await sql.close();
const logs = lines.reduce((n, l) => n + readdirSync(l.dir).filter((f) => f.startsWith("C_CONTROL_LOG_")).length, 0);

console.log(`provisioned              ${finished.length} devices (${perStation.map((s) => `${s.station} ${s.n}`).join(", ")}); control logs ${logs}`);
console.log(`signed by HSM            ${perHsm.map((h) => `${h.hsm_serial} ${h.n}`).join(", ")}`);
console.log(`both HSMs                ${both.toFixed(0)} devices/h = ${((100 * both) / (2 * oneHsmPerHour)).toFixed(1)} % of the two HSMs' limit ${(2 * oneHsmPerHour).toFixed(0)}/h (target >= 90 %)`);
console.log(`one HSM (after the kill) ${one.toFixed(0)} devices/h = ${((100 * one) / oneHsmPerHour).toFixed(1)} % of one HSM's limit ${oneHsmPerHour.toFixed(0)}/h`);
console.log(`duplicates               ${dupDsn.n} DSNs, ${dupSmsn.n} SMSNs (target 0)`);
console.log(`failed devices           ${events.failed} reported, ${failedRows.n} non-provisioned ledger rows, ${events.refused} refused (target 0)`);
for (const f of failures) console.log(`  failed: ${f.station} ${f.port} ${f.dsn} at ${f.failed_step} (t=${((Date.parse(f.finished_at!) - t0) / 1000).toFixed(0)} s): ${f.error}`);
console.log(`line PCs exit codes      ${codes.join(", ")}`);
console.log(`CPU (both HSMs phase)    ${cpuBoth.toFixed(2)} cores used by the factory's processes (this machine: ${navigator.hardwareConcurrency} cores, load average ${load1} at the start of the phase)`);
const perDevice = (k: keyof typeof roles1) => (((roles2[k] - roles1[k]) * 1000) / Math.max(1, bothDevices)).toFixed(1);
console.log(`CPU per device           line PC ${perDevice("lines")} ms, fixture simulators ${perDevice("fixtures")} ms, HSM simulators ${perDevice("hsms")} ms`);
const hsmWarnings = events.warnings.filter((w) => /HSM/.test(w));
console.log(`HSM warnings             ${hsmWarnings.length}${hsmWarnings.length ? ` (first: ${hsmWarnings[0]})` : ""}`);
for (const [i, l] of lines.entries()) {
  const err = (await l.stderr).trim().split("\n").filter((x) => /error/i.test(x));
  if (err.length) console.log(`LINE-${i + 1} stderr: ${err.slice(0, 3).join(" | ")}`);
}
await pg.destroy();
