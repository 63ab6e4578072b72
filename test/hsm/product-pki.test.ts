// `swtool hsm load-test-chain --product-pki FILE` (compiled binary): several HSM simulators get
// DAKs of one rehearsal product, so a line can use them together (the fleet refuses HSMs whose
// chains above the DAK differ); the file holds test keys, so it is private.
import { afterAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { HsmFleet } from "../../src/signer/hsm/fleet.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir } from "../helpers/temp.ts";

const PIN = "rehearsal-pin-5521";
const env = { SWTOOL_HSM_PIN: PIN };
const TAG = "TEST_DAK_REHEARSAL";
const sims: HsmSimulator[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});

async function blankHsm(): Promise<string> {
  const sim = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none" });
  sims.push(sim);
  return sim.url;
}

const load = (url: string, ...extra: string[]) => swtool(["hsm", "load-test-chain", "-c", url, "-p", TAG, ...extra], { env });

describe("hsm load-test-chain --product-pki", () => {
  test("two HSMs loaded from one file hold two DAKs of one product and open as one fleet; an HSM loaded without it is refused", async () => {
    const dir = tempDir("product-pki");
    const file = join(dir, "product.json");
    const [a, b, c] = [await blankHsm(), await blankHsm(), await blankHsm()];

    const first = await load(a, "--product-pki", file);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`made a test product PKI in ${file} (0600; test root, not Amazon's): load the next HSM with the same file`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = await load(b, "--product-pki", file);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("made a test product PKI");
    expect((await load(c)).code).toBe(0);

    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 1, endpoints: [a, b].map((url) => ({ connector: url, pin: PIN })) });
    try {
      const message = new Uint8Array(64).fill(7);
      const chains = new Map<string, string[]>();
      for (let i = 0; i < 8 && chains.size < 2; i++) {
        const s = await fleet.signWithChain("ed25519", message);
        chains.set(String(s.hsmSerial), s.caCerts.map((x) => toHex(x.serial)));
      }
      expect(chains.size).toBe(2);
      const [one, two] = [...chains.values()];
      expect(one![0]).not.toBe(two![0]); // a DAK each
      expect(one!.slice(1)).toEqual(two!.slice(1)); // one product above them
    } finally {
      await fleet.close();
    }

    const refused = await HsmFleet.open({ productTag: TAG, sessions: 1, endpoints: [a, c].map((url) => ({ connector: url, pin: PIN })) }).catch((e) => e);
    expect(refused.message).toStartWith(`HSM 2 (${c}) holds a DAK of another product under the tag ${TAG}:`);
  }, 60_000);

  test("refusals: with the legacy layout, an empty name, a file that is not a product PKI", async () => {
    const dir = tempDir("product-pki-bad");
    const url = await blankHsm();
    const legacy = await load(url, "--product-pki", join(dir, "p.json"), "--layout", "legacy");
    expect([legacy.code, legacy.stderr.trim().split("\n")[0]]).toEqual([2, "error: --product-pki works with the long and chain-depth layouts"]);
    const empty = await load(url, "--product-pki", "");
    expect([empty.code, empty.stderr.trim().split("\n")[0]]).toEqual([2, "error: --product-pki needs a file name"]);
    const junk = join(dir, "junk.json");
    writeFileSync(junk, '{"format":"something-else"}');
    const bad = await load(url, "--product-pki", junk);
    expect([bad.code, bad.stderr.trim().split("\n")[0]]).toEqual([1, `error: ${junk} is not a test product PKI written by swtool: no "format": "swtool-test-product-pki/1"`]);
  }, 60_000);
});
