// Benchmark of `swtool sign` (issue 4), the compiled binary against the HSM simulator:
// (1) one CSR-mode invocation from process start to exit (target: under 150 ms);
// (2) a batch of devices in one HSM session, devices/s with `--latency none` and with
//     `--latency yubihsm2` against the latency model's limit (target: at least 95%); peak memory.
// Usage: bun bench/sign.ts [--devices 1000] [--slow-devices 200] [--runs 10]   (needs dist/swtool)
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTestChain } from "../src/signer/hsm/index.ts";
import { CMD } from "../src/hsm/protocol.ts";
import { commandLatencyMs } from "../src/hsm/simulator/latency.ts";
import { computeSmsn, CURVES, encodeCsr, makeCsr, toBase64 } from "../src/sidewalk/index.ts";
import { peakRssMb, REPO, spawnHsmSimulator, numberArg } from "./_lib.ts";

const DEVICES = numberArg("devices", 1000);
const SLOW_DEVICES = numberArg("slow-devices", 200);
const RUNS = numberArg("runs", 10);
const BINARY = join(REPO, "dist", "swtool");
const PIN = "bench-pin";
const PRODUCT = "TEST_DAK_BENCH";
if (!existsSync(BINARY)) throw new Error("dist/swtool is missing: run `npm run build` first");

function csrPair(dsn: string) {
  const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" });
  const csr = (c: "ed25519" | "p256r1") => toBase64(encodeCsr(makeCsr(c, CURVES[c].randomPrivateKey(), smsn)));
  return { ed: csr("ed25519"), p: csr("p256r1") };
}

/** Runs the binary; returns wall time and its peak memory (from /usr/bin/time when present). */
function runSign(url: string, args: string[]) {
  const started = performance.now();
  const p = Bun.spawnSync([BINARY, "sign", "-p", PRODUCT, "-c", url, ...args], { env: { ...process.env, SWTOOL_HSM_PIN: PIN }, stdout: "pipe", stderr: "pipe" });
  const ms = performance.now() - started;
  if (p.exitCode !== 0 && !args.includes("--batch")) throw new Error(`sign failed: ${p.stderr}`);
  return { ms, stdout: p.stdout.toString(), pid: p.pid };
}

function peakOf(url: string, args: string[]): number {
  const timeBin = "/usr/bin/time";
  if (!existsSync(timeBin)) return NaN;
  const p = Bun.spawnSync([timeBin, "-f", "%M", BINARY, "sign", "-p", PRODUCT, "-c", url, ...args], { env: { ...process.env, SWTOOL_HSM_PIN: PIN }, stdout: "ignore", stderr: "pipe" });
  const lines = p.stderr.toString().trim().split("\n");
  return Number(lines[lines.length - 1]) / 1024;
}

const dir = mkdtempSync(join(tmpdir(), "swtool-bench-sign-"));
try {
  const fast = await spawnHsmSimulator("none");
  await loadTestChain({ connector: fast.url, productTag: PRODUCT, pin: PIN });

  // (1) one invocation, process start to exit.
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const d = csrPair(`SNONE${i}`);
    const { ms } = runSign(fast.url, ["--eddsa_csr", d.ed, "--ecdsa_csr", d.p]);
    if (i > 0) times.push(ms); // the first run warms the page cache
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`single sign (CSR mode), process start to exit over ${RUNS} runs: median ${median.toFixed(0)} ms, best ${times[0]!.toFixed(0)} ms; target < 150 ms: ${median < 150 ? "met" : "NOT met"}`);

  // (2) batches in one session.
  const batchFile = (n: number, tag: string) => {
    const rows = ["dsn,eddsa_csr,ecdsa_csr"];
    for (let i = 0; i < n; i++) {
      const dsn = `SN${tag}${String(i).padStart(6, "0")}`;
      const d = csrPair(dsn);
      rows.push(`${dsn},${d.ed},${d.p}`);
    }
    const path = join(dir, `${tag}.csv`);
    writeFileSync(path, rows.join("\n"));
    return path;
  };
  const batch = (url: string, n: number, tag: string) => {
    const file = batchFile(n, tag);
    const out = join(dir, `out-${tag}`);
    const logs = join(dir, `logs-${tag}`);
    mkdirSync(logs);
    const { ms, stdout } = runSign(url, ["--batch", file, "-o", out, "-a", "pd25", "--control_log_dir", logs]);
    if (!stdout.includes(`batch: ${n} signed, 0 failed`)) throw new Error(`batch ${tag} did not sign all rows: ${stdout}`);
    return { rate: n / (ms / 1000), ms, file, out, logs };
  };
  const f = batch(fast.url, DEVICES, "F");
  console.log(`batch of ${DEVICES} devices, --latency none: ${f.rate.toFixed(1)} devices/s (${(f.ms / 1000).toFixed(1)} s, with an output JSON and a control log each)`);
  const peak = peakOf(fast.url, ["--batch", f.file, "-o", join(dir, "peak-out"), "-a", "pd25"]);
  console.log(`  peak memory of swtool for ${DEVICES} devices: ${peak.toFixed(0)} MB`);
  await fast.stop();

  const slow = await spawnHsmSimulator("yubihsm2");
  await loadTestChain({ connector: slow.url, productTag: PRODUCT, pin: PIN });
  const perDeviceMs = commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 64) + commandLatencyMs("yubihsm2", CMD.SIGN_ECDSA, 2 + 32);
  const limit = 1000 / perDeviceMs;
  const s = batch(slow.url, SLOW_DEVICES, "S");
  console.log(`batch of ${SLOW_DEVICES} devices, --latency yubihsm2: ${s.rate.toFixed(2)} devices/s = ${((100 * s.rate) / limit).toFixed(1)}% of the model's limit ${limit.toFixed(2)} devices/s (target >= 95%)`);
  console.log(`  simulator peak memory ${peakRssMb(slow.pid).toFixed(0)} MB`);
  await slow.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
