// Benchmark of the HSM client (issue 3): signatures per second through the client and the
// simulator (in its own process, as a real connector would be) over HTTP on 127.0.0.1.
// - `--latency none`: the client's own overhead (target > 500 signatures/s on 2 cores);
// - `--latency yubihsm2` over 1, 4 and 16 sessions: how close the pool gets to the latency
//   model's limit (the device runs one command at a time, so more sessions cannot beat it).
// Prints peak memory (VmHWM) of the client and of the simulator.
// Usage: bun bench/hsm.ts [--count N] [--seconds S]
import { peakRssMb, spawnHsmSimulator as simulator, numberArg } from "./_lib.ts";
import { loadTestChain, openCertStore } from "../src/signer/hsm/index.ts";
import { commandLatencyMs } from "../src/hsm/simulator/latency.ts";
import { CMD } from "../src/hsm/protocol.ts";
import type { Curve } from "../src/sidewalk/curves.ts";

const COUNT = numberArg("count", 3000);
const SECONDS = numberArg("seconds", 6);
const PIN = "bench-pin";

/** A Sidewalk-sized message: device public key || SMSN (Ed25519 64 bytes, P-256 96 bytes). */
const message = (curve: Curve, i: number) => new Uint8Array(curve === "ed25519" ? 64 : 96).fill(i & 0xff);

async function run(url: string, sessions: number, curves: Curve[], stop: { count?: number; seconds?: number }) {
  const store = await openCertStore({ connector: url, pin: PIN, productTag: "TEST_DAK_BENCH", sessions });
  let done = 0;
  const started = performance.now();
  const deadline = stop.seconds ? started + stop.seconds * 1000 : Infinity;
  const total = stop.count ?? Infinity;
  // As many stations as sessions, each signing one certificate after the other.
  await Promise.all(
    Array.from({ length: sessions }, async () => {
      while (done < total && performance.now() < deadline) {
        const i = done++;
        const curve = curves[i % curves.length]!;
        await store.sign(curve, message(curve, i));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return { done, seconds, rate: done / seconds };
}

const fmt = (n: number) => n.toFixed(1).padStart(8);

const fast = await simulator("none");
await loadTestChain({ connector: fast.url, productTag: "TEST_DAK_BENCH", pin: PIN });
console.log(`latency none (client overhead), ${COUNT} signatures each; target > 500/s`);
for (const sessions of [1, 4]) {
  for (const curves of [["ed25519"], ["p256r1"], ["ed25519", "p256r1"]] as Curve[][]) {
    const r = await run(fast.url, sessions, curves, { count: COUNT });
    console.log(`  ${String(sessions).padStart(2)} session(s) ${curves.join("+").padEnd(16)} ${fmt(r.rate)} signatures/s  (${r.done} in ${r.seconds.toFixed(2)} s)`);
  }
}
console.log(`  simulator peak memory ${peakRssMb(fast.pid).toFixed(0)} MB`);
await fast.stop();

const slow = await simulator("yubihsm2");
await loadTestChain({ connector: slow.url, productTag: "TEST_DAK_BENCH", pin: PIN });
const perPair = commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 64) + commandLatencyMs("yubihsm2", CMD.SIGN_ECDSA, 2 + 32);
const limit = 2 / (perPair / 1000);
console.log(`latency yubihsm2, Ed25519 + P-256 alternating, ${SECONDS} s each; model limit ${limit.toFixed(2)} signatures/s (${(limit / 2).toFixed(2)} devices/s)`);
for (const sessions of [1, 4, 16]) {
  const r = await run(slow.url, sessions, ["ed25519", "p256r1"], { seconds: SECONDS });
  console.log(`  ${String(sessions).padStart(2)} session(s) ${fmt(r.rate)} signatures/s  = ${((100 * r.rate) / limit).toFixed(1)}% of the model's limit`);
}
console.log(`  simulator peak memory ${peakRssMb(slow.pid).toFixed(0)} MB`);
await slow.stop();
console.log(`client peak memory ${peakRssMb("self").toFixed(0)} MB`);
