// An HSM simulator on 127.0.0.1 loaded with a fresh test chain, for tests that sign.
import { startHsmSimulator } from "../../src/hsm/index.ts";
import { loadTestChain } from "../../src/signer/hsm/index.ts";
import type { Curve } from "../../src/sidewalk/curves.ts";
import type { TestPki } from "../../src/sidewalk/pki.ts";

export const TEST_PIN = "line-pin-0427";

export interface LoadedHsm {
  url: string;
  productTag: string;
  stop(): Promise<void>;
}

export async function startLoadedHsm(productTag = "TEST_DAK_LINE", options: { layout?: "long" | "chain-depth" | "legacy"; testCert?: boolean; log?: (line: string) => void; pki?: Record<Curve, TestPki> } = {}): Promise<LoadedHsm> {
  const sim = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none", ...(options.log ? { log: options.log } : {}) });
  await loadTestChain({ connector: sim.url, productTag, pin: TEST_PIN, ...(options.layout ? { layout: options.layout } : {}), ...(options.testCert ? { testCert: true } : {}), ...(options.pki ? { pki: options.pki } : {}) });
  return { url: sim.url, productTag, stop: () => sim.stop() };
}
