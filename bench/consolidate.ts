// Benchmark of `swtool consolidate` (issue 6): N single-device control logs under one test
// PKI, every entry fully validated; prints wall time and peak memory of the swtool process.
// Targets: 100,000 logs under 30 s and 256 MB; 1,000,000 logs still under 256 MB.
// Usage: bun bench/consolidate.ts [--logs N] [--million] [--keep DIR] [--from-source]
import { createPrivateKey, randomBytes, sign, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { formatControlLog } from "../src/controllog/format.ts";
import { toBase64, toHex } from "../src/lib/bytes.ts";
import { encodeChain } from "../src/sidewalk/chain.ts";
import { toBeSigned } from "../src/sidewalk/csr.ts";
import { CURVES, type Curve } from "../src/sidewalk/curves.ts";
import { makeTestPki, type TestPki } from "../src/sidewalk/pki.ts";

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const counts = process.argv.includes("--million") ? [100_000, 1_000_000] : [Number(arg("--logs") ?? 100_000)];
const REPO = join(import.meta.dir, "..");
const TARGET_SECONDS_PER_100K = 30;
const TARGET_MB = 256;

const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** The DAK as a native key, so generating 100,000 logs takes seconds, not minutes. */
function nativeDak(curve: Curve, pki: TestPki): KeyObject {
  const d = pki.privateKeys[0]!;
  const pub = pki.caCerts[0]!.publicKey;
  const jwk =
    curve === "ed25519"
      ? { kty: "OKP", crv: "Ed25519", d: b64url(d), x: b64url(pub) }
      : { kty: "EC", crv: "P-256", d: b64url(d), x: b64url(pub.subarray(0, 32)), y: b64url(pub.subarray(32)) };
  return createPrivateKey({ key: jwk, format: "jwk" });
}

function generate(dir: string, n: number): void {
  const curves: Curve[] = ["ed25519", "p256r1"];
  const pkis = Object.fromEntries(curves.map((c) => [c, makeTestPki(c)])) as Record<Curve, TestPki>;
  const daks = Object.fromEntries(curves.map((c) => [c, nativeDak(c, pkis[c])])) as Record<Curve, KeyObject>;
  // A pool of device keys: what matters to the benchmark is one DAK signature per device and curve.
  const deviceKeys = Object.fromEntries(curves.map((c) => [c, Array.from({ length: 64 }, () => CURVES[c].publicKeyFromPrivate(CURVES[c].randomPrivateKey()))])) as Record<Curve, Uint8Array[]>;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const smsn = new Uint8Array(randomBytes(32));
    const chain = (c: Curve) => {
      const publicKey = deviceKeys[c][i % 64]!;
      const tbs = toBeSigned(publicKey, smsn);
      const signature = new Uint8Array(c === "ed25519" ? sign(null, tbs, daks[c]) : sign("sha256", tbs, { key: daks[c], dsaEncoding: "ieee-p1363" }));
      return toBase64(encodeChain({ curve: c, kind: "sidewalk", certs: [{ serial: smsn, publicKey, signature }, ...pkis[c].caCerts] }));
    };
    const entry = { version: "4-0-1", serialNumber: toHex(smsn), apid: ["pd25", "ab12"][i % 2]!, ed25519Chain: chain("ed25519"), p256r1Chain: chain("p256r1"), label: "test" as const };
    const sub = join(dir, `station-${i % 4}`);
    if (i < 4) mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `C_CONTROL_LOG_20261121${String(i).padStart(6, "0")}.txt`), formatControlLog([entry]));
  }
  console.log(`generated ${n} logs in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const command = process.argv.includes("--from-source") || !existsSync(join(REPO, "dist", "swtool")) ? [process.execPath, join(REPO, "src", "main.ts")] : [join(REPO, "dist", "swtool")];

for (const n of counts) {
  const root = arg("--keep") ?? mkdtempSync(join(tmpdir(), "swtool-bench-consolidate-"));
  const logs = join(root, `logs-${n}`);
  if (!existsSync(logs)) generate(logs, n);
  const out = join(root, `out-${n}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out);
  const started = performance.now();
  const proc = Bun.spawn([...command, "consolidate", logs, "--quiet"], { cwd: out, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`consolidate failed (${code}): ${stderr}`);
  const peakMb = (proc.resourceUsage()?.maxRSS ?? 0) / 1024 / 1024; // Bun reports maxRSS in bytes
  const outFile = readdirSync(out)[0]!;
  // The ratio to each target (below 1 meets it); the time target is for 100,000 logs, scaled.
  const timeRatio = seconds / (TARGET_SECONDS_PER_100K * (n / 100_000));
  const memoryRatio = peakMb / TARGET_MB;
  console.log(
    `consolidate ${n} logs: ${seconds.toFixed(1)} s wall (${Math.round(n / seconds)} logs/s), peak RSS ${peakMb.toFixed(0)} MB, output ${(statSync(join(out, outFile)).size / 1e6).toFixed(0)} MB` +
      `  [targets: ${n <= 100_000 ? "< 30 s, " : ""}< 256 MB; ratio to target: time ${timeRatio.toFixed(2)}${n <= 100_000 ? "" : " (30 s per 100,000, not a target here)"}, memory ${memoryRatio.toFixed(2)}]` +
      `  (${navigator.hardwareConcurrency} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")})`,
  );
  void stdout;
  if (!arg("--keep")) rmSync(root, { recursive: true, force: true });
}
