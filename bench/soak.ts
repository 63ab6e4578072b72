// Soak (not in CI): many devices through 8 fixtures with serial faults (drop, garble, reset,
// silence) and occasional HSM failures. Checks that no control log is lost or duplicated and
// that every device is either provisioned with exactly one log or reported failed.
// Usage: bun bench/soak.ts [--devices 10000] [--fault-rate 0.001] [--hsm-failure-rate 0.005]
import { SwtoolError } from "../src/lib/errors.ts";
import { startDeviceSimulator } from "../src/device/simulator/host.ts";
import { makeTestPki, MemorySigner, type DakSigner } from "../src/sidewalk/index.ts";
import { controlLogs } from "../test/device/station.ts";
import { numberArg } from "./_lib.ts";
import { runBenchStation } from "./_line.ts";

const devices = numberArg("devices", 10_000);
// Per received line; about 5 % of devices see at least one fault at 0.0007 (70 commands each).
const faultRate = numberArg("fault-rate", 0.0007);
const hsmFailureRate = numberArg("hsm-failure-rate", 0.005);

const memory = new MemorySigner("TEST_DAK_SOAK", "test", { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") });
let hsmFailures = 0;
const signer: DakSigner = {
  productTag: memory.productTag,
  stage: memory.stage,
  kind: memory.kind,
  caCerts: (c) => memory.caCerts(c),
  async sign(curve, message) {
    if (Math.random() < hsmFailureRate) {
      hsmFailures++;
      throw new SwtoolError("HSM connection lost (soak fault)");
    }
    return memory.sign(curve, message);
  },
};

const sim = await startDeviceSimulator({ transport: "pty", fixtures: 8, noise: true, faults: ["drop", "garble", "reset", "silence"], faultRate, silenceMs: 600 });
const t0 = performance.now();
let started = 0;
const { summary, dir, ledger } = await runBenchStation(sim.ports, signer, "SK", {
  count: devices,
  protocol: { timeoutMs: 250 },
  onEvent: (e) => {
    if (e.type === "device-start") started++;
    if (e.type === "device-done" && e.provisioned % 1000 === 0) console.log(`${e.provisioned} provisioned (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  },
});
const presented = sim.devices();
await sim.close();

const logs = controlLogs(dir);
const bySmsn = new Map(logs.map((l) => [l.serialNumber, l]));
const provisionedRows = (await ledger.list({ status: "provisioned" }));
const failedRows = (await ledger.list({ status: "failed" }));
const stuck = (await ledger.list({ status: "in-progress" }));
const storedWithoutLog = presented.filter((d) => d.stored && !bySmsn.has(d.stored.smsn));
const problems = [
  logs.length !== bySmsn.size && `${logs.length - bySmsn.size} duplicated control logs`,
  logs.length !== summary.provisioned && `${logs.length} control logs for ${summary.provisioned} provisioned devices`,
  provisionedRows.length !== summary.provisioned && `${provisionedRows.length} ledger rows provisioned for ${summary.provisioned}`,
  provisionedRows.some((r) => !bySmsn.has(r.smsn)) && "a provisioned ledger row without its control log",
  stuck.length && `${stuck.length} attempts never finished`,
  summary.provisioned + summary.failed !== started && `${started} started but ${summary.provisioned + summary.failed} ended`,
].filter(Boolean);
console.log(`devices                  ${summary.provisioned} provisioned, ${summary.failed} failed (${failedRows.length} in the ledger) in ${summary.seconds.toFixed(0)} s`);
console.log(`faults injected          ${presented.reduce((n, d) => n + d.faults.length, 0)} serial, ${hsmFailures} HSM`);
console.log(`stored, no log           ${storedWithoutLog.length} (device stored its identity but a later step failed: reported failed)`);
console.log(`control logs             ${logs.length}, unique SMSNs ${bySmsn.size}`);
console.log(problems.length ? `PROBLEMS: ${problems.join("; ")}` : "OK: no control log lost or duplicated; every device provisioned with one log or reported failed");
await ledger.close();
process.exit(problems.length ? 1 : 0);
