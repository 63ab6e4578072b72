// The Sidewalk certificate store against the simulator over real HTTP on 127.0.0.1: the three
// layouts, signatures on both curves checked with the DAK public key and through signDevice,
// toolreq refusal, and the failures a line meets (wrong PIN, wrong slot, unknown product).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { loadTestChain, openCertStore } from "../../src/signer/hsm/index.ts";
import { HsmDeviceError, HsmPinRejectedError } from "../../src/hsm/errors.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { Connector } from "../../src/hsm/transport.ts";
import { VerificationError } from "../../src/lib/errors.ts";
import { CURVES, CURVE_NAMES, makeCsr, signDevice, verifyChain } from "../../src/sidewalk/index.ts";
import { computeSmsn } from "../../src/sidewalk/smsn.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const PIN = "1234-line-pin";
const sims: HsmSimulator[] = [];
async function sim(): Promise<HsmSimulator> {
  const s = await startHsmSimulator();
  sims.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
});

function deviceCsrs(stage: "test" | "production" | "preproduction") {
  const smsn = computeSmsn({ deviceType: "A5", dsn: "DSN0001", apid: "AB12", stage });
  const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
  return { smsn, ed: makeCsr("ed25519", keys.ed25519, smsn), p256: makeCsr("p256r1", keys.p256r1, smsn) };
}

describe.each(["long", "chain-depth", "legacy"] as const)("layout %s", (layout) => {
  let s: HsmSimulator;
  beforeAll(async () => {
    s = await sim();
    await loadTestChain({ connector: s.url, productTag: "TEST_DAK_LINE", pin: PIN, layout });
  });
  test("finds the chain, signs on both curves, chains verify", async () => {
    const store = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_LINE" });
    try {
      expect(store.stage).toBe("test");
      expect(store.kind).toBe(layout === "legacy" ? "legacy" : "sidewalk");
      expect(store.layout).toBe(layout === "long" ? "hsm-info" : layout);
      expect(store.hsmSerial).toBe(s.device.state.serial);
      for (const curve of CURVE_NAMES) {
        expect(store.caCerts(curve).length).toBe(layout === "legacy" ? 3 : 5);
        expect(store.amazonRoot(curve)).toBe(false);
        const msg = new TextEncoder().encode(`message for ${curve}`);
        const sig = await store.sign(curve, msg);
        expect(sig.length).toBe(64);
        expect(CURVES[curve].verify(sig, msg, store.dakPublicKey(curve))).toBe(true);
      }
      const { ed, p256 } = deviceCsrs("test");
      const chains = await signDevice(store, ed, p256);
      expect(verifyChain(chains.ed25519).ok).toBe(true);
      expect(verifyChain(chains.p256r1).ok).toBe(true);
      expect(verifyChain(chains.p256r1).amazonRoot).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe("the store and its failures", () => {
  let s: HsmSimulator;
  beforeAll(async () => {
    s = await sim();
    await loadTestChain({ connector: s.url, productTag: "RNET_DAK_DEMO", pin: PIN });
  });
  test("concurrent signatures share a pool of sessions", async () => {
    const store = await openCertStore({ connector: s.url, pin: PIN, productTag: "RNET_DAK_DEMO", sessions: 4, allowTestRoot: true });
    const msgs = Array.from({ length: 24 }, (_, i) => new Uint8Array([i, 1, 2, 3]));
    const sigs = await Promise.all(msgs.map((m, i) => store.sign(i % 2 ? "p256r1" : "ed25519", m)));
    sigs.forEach((sig, i) => expect(CURVES[i % 2 ? "p256r1" : "ed25519"].verify(sig, msgs[i]!, store.dakPublicKey(i % 2 ? "p256r1" : "ed25519"))).toBe(true));
    expect(s.device.sessions.inUse).toBe(4);
    await store.close();
    expect(s.device.sessions.inUse).toBe(0);
  });
  test("a production tag with a test chain: refused, unless rehearsing (the policy says which)", async () => {
    const err = await openCertStore({ connector: s.url, pin: PIN, productTag: "RNET_DAK_DEMO" }).catch((e) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(err.message).toBe("the HSM's chain for RNET_DAK_DEMO does not end at Amazon's production root, but the tag names a production product");
    expect(s.device.sessions.inUse).toBe(0);
    const store = await openCertStore({ connector: s.url, pin: PIN, productTag: "RNET_DAK_DEMO", allowTestRoot: true });
    try {
      expect(store.policy).toEqual({ requireAmazonRoot: false, rehearsal: true });
      expect(store.requireAmazonRoot).toBe(false);
      expect(store.hsmSerial).toBe(s.device.state.serial);
    } finally {
      await store.close();
    }
  });
  test("wrong PIN names the slot, never the PIN", async () => {
    const err = await openCertStore({ connector: s.url, pin: "9999-wrong", productTag: "RNET_DAK_DEMO" }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmPinRejectedError);
    expect(err.message).toBe("the HSM rejected the PIN for authentication key slot 5");
    expect(`${err.message} ${err.advice}`).not.toContain("9999");
  });
  test("wrong slot: no authentication key there", async () => {
    const err = await openCertStore({ connector: s.url, pin: PIN, productTag: "RNET_DAK_DEMO", pinSlot: 9 }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmDeviceError);
    expect(err.codeName).toBe("OBJECT_NOT_FOUND");
    expect(err.message).toContain("0x0009");
    expect(err.advice).toContain("--pin-slot");
  });
  test("unknown product tag lists the tags present", async () => {
    const err = await openCertStore({ connector: s.url, pin: PIN, productTag: "RNET_DAK_OTHER" }).catch((e) => e);
    expect(err.message).toBe("the HSM has no DAK for product tag RNET_DAK_OTHER");
    expect(err.advice).toBe("product tags on this HSM: RNET_DAK_DEMO");
  });
  test("a tag without a stage prefix is refused before connecting", async () => {
    await expect(openCertStore({ connector: s.url, pin: PIN, productTag: "DAK_DEMO" })).rejects.toThrow('unable to determine the stage from the product tag "DAK_DEMO"');
  });
  test("a missing certificate object is named", async () => {
    const t = await sim();
    await loadTestChain({ connector: t.url, productTag: "TEST_DAK_X", pin: PIN });
    t.device.state.delete(1, 0x1e + 0x20 - 0x10); // SIDEWALK P-256 test-stage signature
    const err = await openCertStore({ connector: t.url, pin: PIN, productTag: "TEST_DAK_X" }).catch((e) => e);
    expect(err.message).toBe("the HSM is missing the signature of the P-256 SIDEWALK certificate (opaque object 0x002e)");
  });
});

describe("toolreq", () => {
  test("an HSM asking for a newer tool is refused with a clear message", async () => {
    const s = await sim();
    await loadTestChain({ connector: s.url, productTag: "TEST_DAK_NEW", pin: PIN, toolreq: "9.0" });
    const err = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_NEW" }).catch((e) => e);
    expect(err.message).toBe("the HSM needs a signing tool of version 9.0 or newer; swtool implements the HSM layout of Amazon's signing tool 1.2.0");
    expect(err.advice).toContain("update swtool");
  });
});

describe("persistence", () => {
  test("a loaded HSM survives a simulator restart", async () => {
    const dir = scratchDir("hsm");
    try {
      const statePath = join(dir, "hsm.json");
      const a = await startHsmSimulator({ statePath });
      await loadTestChain({ connector: a.url, productTag: "TEST_DAK_KEEP", pin: PIN });
      const serial = a.device.state.serial;
      await a.stop();
      const b = await startHsmSimulator({ statePath });
      sims.push(b);
      expect(b.device.state.serial).toBe(serial);
      const store = await openCertStore({ connector: b.url, pin: PIN, productTag: "TEST_DAK_KEEP" });
      expect((await store.sign("ed25519", new Uint8Array([1]))).length).toBe(64);
      await store.close();
      await expect(loadTestChain({ connector: b.url, productTag: "TEST_DAK_KEEP", pin: PIN })).rejects.toThrow("the HSM is not blank");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an HSM with no free session at start (sessionWait)", () => {
  async function full() {
    const s = await sim();
    await loadTestChain({ connector: s.url, productTag: "TEST_DAK_WAIT", pin: PIN });
    const connector = new Connector({ url: s.url });
    const held: HsmSession[] = [];
    for (let i = 0; i < 16; i++) held.push(await HsmSession.open(connector, 5, deriveAuthKey(PIN)));
    return { s, held };
  }

  test("waits, telling at once and at most every repeatMs, opens once a session frees, and grows later", async () => {
    const { s, held } = await full();
    const told: number[] = [];
    const started = Date.now();
    setTimeout(() => void Promise.all(held.splice(0, 3).map((h) => h.close())), 1000);
    const store = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_WAIT", sessions: 4, sessionWait: { onWaiting: () => told.push(Date.now() - started), repeatMs: 400 } });
    // Told at once, then again at most every 400 ms while the wait (about 1 s) lasts.
    expect(told[0]).toBeLessThan(400);
    expect(told.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < told.length; i++) expect(told[i]! - told[i - 1]!).toBeGreaterThanOrEqual(400);
    const sigs = await Promise.all([1, 2, 3, 4].map((i) => store.sign("ed25519", new Uint8Array(64).fill(i))));
    expect(sigs.every((x, i) => CURVES.ed25519.verify(x, new Uint8Array(64).fill(i + 1), store.dakPublicKey("ed25519")))).toBe(true);
    // Started on one session, the pool took the two others that were free: the HSM is full again.
    expect(s.device.sessions.inUse).toBe(16);
    await store.close();
    await Promise.all(held.map((h) => h.close()));
  });

  test("gives up after timeoutMs with one error naming the HSM; an abort ends the wait (exit code 130)", async () => {
    const { s, held } = await full();
    const told: string[] = [];
    const err = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_WAIT", sessionWait: { onWaiting: (m) => told.push(m), timeoutMs: 600 } }).catch((e) => e);
    expect(err.message).toBe(`HSM ${s.url} has no free session (all 16 held) after waiting 1 s; nothing was signed`);
    expect(err.exitCode).toBe(1);
    expect(told).toEqual([`HSM ${s.url} has no free session (all 16 held); waiting — another line PC or a previous run holds them; sessions time out after 30 s`]);
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const aborted = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_WAIT", sessionWait: { onWaiting: () => {}, signal: stop.signal } }).catch((e) => e);
    expect(aborted.message).toBe(`stopped while waiting for a free session of HSM ${s.url}; nothing was signed`);
    expect(aborted.exitCode).toBe(130);
    // Without sessionWait (a tool that must not wait) SESSIONS_FULL stands at once.
    const at = await openCertStore({ connector: s.url, pin: PIN, productTag: "TEST_DAK_WAIT" }).catch((e) => e);
    expect(at).toBeInstanceOf(HsmDeviceError);
    await Promise.all(held.map((h) => h.close()));
  });
});
