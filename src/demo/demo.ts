// The whole job on the built-in simulators, as an operator rehearses a line before the HSM
// arrives: an HSM simulator loaded with a test chain, simulated fixtures on pseudo-terminals,
// a station that provisions N devices, consolidation of their control logs, and a check of
// every chain in the consolidated file. Everything goes over the same transports as in the
// factory (HTTP to the connector, serial ports), only the peers are simulated.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { consolidate, type ConsolidateSummary } from "../controllog/consolidate.ts";
import type { LineEvent, LineSummary } from "../device/line.ts";
import { runRehearsalStation } from "./station.ts";
import { startDeviceSimulator } from "../device/simulator/host.ts";
import { startHsmSimulator } from "../hsm/index.ts";
import { loadTestChain, openCertStore } from "../signer/hsm/index.ts";
import { openLedger } from "../ledger/ledger.ts";
import { inspectInput, type InspectedChain } from "../verify/inspect.ts";

export interface DemoOptions {
  devices: number;
  fixtures: number;
  /** Where control logs, the ledger and the consolidated log go. */
  dir: string;
  realistic?: boolean;
  noise?: boolean;
  latency?: "none" | "yubihsm2";
  onEvent?: (e: LineEvent) => void;
  onStage?: (message: string) => void;
}

export interface DemoResult {
  hsmUrl: string;
  ports: string[];
  line: LineSummary;
  consolidated: ConsolidateSummary;
  chains: InspectedChain[];
  chainsOk: number;
  /** Devices the simulator reports as stored, and whose stored chains match the log. */
  storedOnDevices: number;
  ok: boolean;
}

export const DEMO_PRODUCT = "TEST_DAK_DEMO";
export { DEMO_APID, DEMO_APP_SERVER_KEY, DEMO_DEVICE_TYPE } from "./station.ts";

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const stage = o.onStage ?? (() => {});
  const logs = join(o.dir, "logs");
  mkdirSync(logs, { recursive: true });
  // A fresh PIN per demo: the simulator's slot key is derived from it, nothing is stored.
  const pin = randomBytes(12).toString("base64url");
  const hsm = await startHsmSimulator({ listen: "127.0.0.1:0", latency: o.latency ?? "none" });
  const devices = await startDeviceSimulator({
    fixtures: o.fixtures,
    transport: "pty",
    ...(o.realistic ? { realistic: true } : {}),
    ...(o.noise ? { noise: true } : {}),
  });
  const ledger = await openLedger(join(o.dir, "swtool.db"));
  try {
    stage(`HSM simulator on ${hsm.url}; loading a test chain for ${DEMO_PRODUCT}`);
    await loadTestChain({ connector: hsm.url, productTag: DEMO_PRODUCT, pin });
    const signer = await openCertStore({ connector: hsm.url, pin, productTag: DEMO_PRODUCT, sessions: Math.min(16, o.fixtures * 2) });
    let line: LineSummary;
    try {
      stage(`${o.fixtures} simulated fixture(s) on ${devices.ports.join(", ")}; provisioning ${o.devices} device(s)`);
      ({ summary: line } = await runRehearsalStation({
        ports: devices.ports,
        signer,
        dir: logs,
        ledger,
        dsnTemplate: "DEMO{seq:8}",
        count: o.devices,
        ...(o.onEvent ? { onEvent: o.onEvent } : {}),
      }));
    } finally {
      await signer.close();
    }
    stage(`consolidating the control logs in ${logs}`);
    const consolidated = await consolidate({ paths: [logs], outDir: o.dir });
    const chains = consolidated.output ? inspectInput(consolidated.output) : [];
    const chainsOk = chains.filter((c) => !c.error && c.report?.ok).length;
    // What each simulated device wrote to its store must be what the control log says.
    const logged = new Map(chains.filter((c) => c.report).map((c) => [`${c.claimedSmsn}/${c.report!.curve}`, c.report!.certs[0]!]));
    const stored = devices
      .devices()
      .filter((d) => d.stored)
      .filter((d) =>
        (["ed25519", "p256r1"] as const).every((curve) => logged.get(`${d.stored!.smsn}/${curve}`)?.publicKey === d.stored!.devicePublicKeys[curve]),
      ).length;
    const ok = line.provisioned === o.devices && line.failed === 0 && consolidated.devices === o.devices && chainsOk === 2 * o.devices && stored === o.devices;
    return { hsmUrl: hsm.url, ports: devices.ports, line, consolidated, chains, chainsOk, storedOnDevices: stored, ok };
  } finally {
    await ledger.close();
    await devices.close();
    await hsm.stop();
  }
}
