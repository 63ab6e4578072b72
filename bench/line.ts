// Production line throughput: 8 simulated fixtures in --realistic mode (115200-baud pacing,
// chip latency) and the HSM simulator with --latency yubihsm2, each in its own process.
// Prints devices per hour against the limit the HSM latency model allows (two DAK signatures
// per device, serialised by the HSM), swtool's CPU time per device, and peak memory sampled
// along the run (it should stay flat).
// Usage: bun bench/line.ts [--devices N] [--fixtures M]   (N default 300; 10000 for the full memory figure)
import { loadTestChain, openCertStore } from "../src/signer/hsm/index.ts";
import { commandLatencyMs } from "../src/hsm/simulator/latency.ts";
import { CMD } from "../src/hsm/protocol.ts";
import { spawnHsmSimulator, numberArg } from "./_lib.ts";
import { runBenchStation, spawnDeviceSimulator } from "./_line.ts";

const devices = numberArg("devices", 300);
const fixtures = numberArg("fixtures", 8);

const hsm = await spawnHsmSimulator("yubihsm2");
const sim = await spawnDeviceSimulator(["--realistic", "--fixtures", String(fixtures), "--swap-ms", "100"]);
process.on("exit", () => {
  for (const pid of [hsm.pid, sim.pid]) {
    try {
      process.kill(pid);
    } catch {
      // Already gone.
    }
  }
});
const pin = "bench-line-pin";
await loadTestChain({ connector: hsm.url, productTag: "TEST_DAK_BENCH", pin });
const signer = await openCertStore({ connector: hsm.url, pin, productTag: "TEST_DAK_BENCH", sessions: 4 });

// Ed25519 signs pubkey || SMSN (64 bytes), P-256 signs its 32-byte SHA-256.
const hsmMsPerDevice = commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 64) + commandLatencyMs("yubihsm2", CMD.SIGN_ECDSA, 2 + 32);
const limitPerHour = 3_600_000 / hsmMsPerDevice;

const rss: number[] = [];
// Time each fixture spends per device outside DAK signing (UART, chip, swap): the line's other limit.
const signStarted = new Map<string, number>();
let signMs = 0;
let deviceMs = 0;
let lastSample = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const { summary, ledger } = await runBenchStation(sim.ports, signer, "BN", {
  count: devices,
  onEvent: (e) => {
    if (e.type === "step" && e.step === "sign") signStarted.set(e.port, performance.now());
    if (e.type === "step" && e.step === "chain-ed25519") signMs += performance.now() - (signStarted.get(e.port) ?? performance.now());
    if (e.type === "device-done") deviceMs += e.seconds * 1000;
    if (e.type === "device-done" && e.provisioned - lastSample >= Math.max(10, devices / 20)) {
      lastSample = e.provisioned;
      Bun.gc(true);
      rss.push(process.memoryUsage().rss / 1024 / 1024);
    }
  },
});
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
await signer.close();
await ledger.close();
await sim.stop();
await hsm.stop();

const rate = (summary.provisioned * 3600) / seconds;
console.log(`fixtures                 ${fixtures} (--realistic, 115200 baud), HSM --latency yubihsm2`);
console.log(`devices                  ${summary.provisioned} provisioned, ${summary.failed} failed in ${seconds.toFixed(1)} s`);
console.log(`rate                     ${rate.toFixed(0)} devices/h`);
console.log(`HSM limit                ${limitPerHour.toFixed(0)} devices/h (${hsmMsPerDevice.toFixed(1)} ms of DAK signing per device)`);
const fixtureMs = (deviceMs - signMs) / summary.provisioned + 100;
console.log(`fixture limit            ${((fixtures * 3_600_000) / (fixtureMs + hsmMsPerDevice)).toFixed(0)} devices/h (${fixtureMs.toFixed(0)} ms per device on the UART and chip incl. 100 ms swap, + signing)`);
console.log(`rate / limit             ${((rate / limitPerHour) * 100).toFixed(1)} % (target >= 90 %)`);
console.log(`swtool CPU per device    ${((cpu.user + cpu.system) / 1000 / summary.provisioned).toFixed(1)} ms (user ${(cpu.user / 1000 / summary.provisioned).toFixed(1)}, system ${(cpu.system / 1000 / summary.provisioned).toFixed(1)})`);
if (rss.length > 1) {
  const quarter = Math.max(1, Math.floor(rss.length / 4));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`RSS after GC             first quarter ${avg(rss.slice(0, quarter)).toFixed(0)} MiB, last quarter ${avg(rss.slice(-quarter)).toFixed(0)} MiB, peak ${Math.max(...rss).toFixed(0)} MiB`);
}
