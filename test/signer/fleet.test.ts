// Several HSMs of one product (HsmFleet): each checked at start, work spread least loaded
// first, an HSM killed mid-shift (its in-flight signatures made again on another, nothing
// fails), its background rejoin, and the ledger naming the HSM that signed each device.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHsmSimulator } from "../../src/hsm/index.ts";
import { HsmClient } from "../../src/hsm/client.ts";
import { OBJECT_TYPE } from "../../src/hsm/protocol.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { Connector } from "../../src/hsm/transport.ts";
import { echo } from "../../src/hsm/commands/echo.ts";
import { CURVE_NAMES, CURVES, type Curve } from "../../src/sidewalk/curves.ts";
import { toBeSigned } from "../../src/sidewalk/csr.ts";
import { anotherDak, makeCaSerial, makeProductPki, type TestPki } from "../../src/sidewalk/pki.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { loadTestChain } from "../../src/signer/hsm/index.ts";
import { openCertStore } from "../../src/signer/hsm/certstore.ts";
import { HsmFleet, type FleetEvent } from "../../src/signer/hsm/fleet.ts";
import { runStation } from "../device/station.ts";
import { spawnSwtoolServer } from "../helpers/cli.ts";
import { TEST_PIN } from "../helpers/hsm.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const TAG = "TEST_DAK_FLEET";

const productPki = makeProductPki;
const PRODUCT = productPki();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HSM simulator process (it can be killed) keeping its objects in a state file, loaded with a test chain. */
async function hsmProcess(options: { state?: string; listen?: string; latency?: "none" | "yubihsm2"; load?: boolean; pki?: Record<Curve, TestPki> } = {}) {
  const state = options.state ?? join(scratchDir("fleet"), "hsm.json");
  const { proc, first } = await spawnSwtoolServer(["hsm", "simulate", "--json", "--listen", options.listen ?? "127.0.0.1:0", "--latency", options.latency ?? "none", "--state", state]);
  const url = first.url as string;
  cleanups.push(() => proc.kill("SIGKILL"));
  // By default a new DAK of the one product each time.
  if (options.load !== false) await loadTestChain({ connector: url, productTag: TAG, pin: TEST_PIN, pki: options.pki ?? anotherDak(PRODUCT) });
  return { url, state, serial: first.serial as number, proc, port: new URL(url).port };
}

const message = (i: number) => new Uint8Array(64).fill(i);

describe("HsmFleet", () => {
  test("two HSMs with different DAKs of one product: every signature verifies with the chain of the DAK that made it, both HSMs used", async () => {
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess()]);
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 2, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    expect(fleet.status().map((s) => s.serial).sort()).toEqual([a.serial, b.serial].sort());
    const signed = await Promise.all(Array.from({ length: 16 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    for (const [i, s] of signed.entries()) expect(CURVES.ed25519.verify(s.signature, message(i), s.caCerts[0]!.publicKey)).toBe(true);
    expect(new Set(signed.map((s) => s.hsmSerial))).toEqual(new Set([String(a.serial), String(b.serial)]));
    // The two DAKs differ: each signature came with its own DAK certificate.
    const daks = new Set(signed.map((s) => Buffer.from(s.caCerts[0]!.publicKey).toString("hex")));
    expect(daks.size).toBe(2);
    // ... under the one product: everything above the DAK is the same.
    expect(new Set(signed.map((s) => s.caCerts.slice(1).map((c) => toHex(c.serial) + toHex(c.publicKey)).join()))).toEqual(new Set([PRODUCT.ed25519.caCerts.slice(1).map((c) => toHex(c.serial) + toHex(c.publicKey)).join()]));
  }, 30_000);

  test("two HSMs holding the same DAK: both sign, every signature verifies with the one chain, the line counts the DAK's signatures once over both", async () => {
    const same = anotherDak(PRODUCT);
    const [a, b] = await Promise.all([hsmProcess({ pki: same }), hsmProcess({ pki: same })]);
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 2, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    for (const curve of CURVE_NAMES) {
      const signed = await Promise.all(Array.from({ length: 8 }, (_, i) => fleet.signWithChain(curve, message(i))));
      expect(new Set(signed.map((s) => s.hsmSerial))).toEqual(new Set([String(a.serial), String(b.serial)]));
      for (const [i, s] of signed.entries()) {
        expect(s.caCerts.map((c) => toHex(c.serial))).toEqual(same[curve].caCerts.map((c) => toHex(c.serial)));
        expect(CURVES[curve].verify(s.signature, message(i), same[curve].caCerts[0]!.publicKey)).toBe(true);
      }
    }
    const run = await runStation({ transport: "pty", fixtures: 4, count: 8 }, { signer: fleet, count: 8 });
    expect(run.summary).toMatchObject({ provisioned: 8, failed: 0 });
    const rows = await run.ledger.list({ status: "provisioned" });
    expect(rows.length).toBe(8);
    // One DAK, one counter: 8 devices' Ed25519 signatures, whichever HSM made each.
    const id = `${TAG}/ed25519/${toHex(same.ed25519.caCerts[0]!.serial)}`;
    expect(new Set(rows.map((r) => r.dak))).toEqual(new Set([id]));
    expect(await run.ledger.signatureCount(id)).toBe(8);
    expect(new Set(rows.flatMap((r) => r.hsmSerial!.split(",")))).toEqual(new Set([String(a.serial), String(b.serial)]));
    await run.ledger.close();
  }, 60_000);

  test("two HSMs with DAKs of different products under one tag: the start is refused, naming the HSM and the certificate that differs", async () => {
    const other = productPki();
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess({ pki: other })]);
    const err = await HsmFleet.open({ productTag: TAG, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) }).catch((e) => e);
    expect(err.message).toBe(
      `HSM 2 (${b.url}) holds a DAK of another product under the tag ${TAG}: its Ed25519 PRODUCT certificate (serial ${toHex(other.ed25519.caCerts[1]!.serial)}) is not HSM 1's (serial ${toHex(PRODUCT.ed25519.caCerts[1]!.serial)})`,
    );
    expect(err.advice).toBe("all HSMs of one line must hold DAKs of the same product (one chain above the DAK); leave that HSM out or have it provisioned again");
    // Same root, manufacturer and Sidewalk CA but another PRODUCT certificate (another product of the same maker): refused too.
    const sibling = anotherDak(PRODUCT);
    const c = await hsmProcess({ load: false });
    const prodKey = CURVES.p256r1.randomPrivateKey();
    const prod = { serial: makeCaSerial(), publicKey: CURVES.p256r1.publicKeyFromPrivate(prodKey) };
    const prodCert = { ...prod, signature: CURVES.p256r1.sign(toBeSigned(prod.publicKey, prod.serial), PRODUCT.p256r1.privateKeys[2]!) };
    const dakKey = CURVES.p256r1.randomPrivateKey();
    const dak = { serial: makeCaSerial(), publicKey: CURVES.p256r1.publicKeyFromPrivate(dakKey) };
    const dakCert = { ...dak, signature: CURVES.p256r1.sign(toBeSigned(dak.publicKey, dak.serial), prodKey) };
    sibling.p256r1 = { ...PRODUCT.p256r1, caCerts: [dakCert, prodCert, ...PRODUCT.p256r1.caCerts.slice(2)], privateKeys: [dakKey, prodKey, ...PRODUCT.p256r1.privateKeys.slice(2)] };
    await loadTestChain({ connector: c.url, productTag: TAG, pin: TEST_PIN, pki: sibling });
    const err2 = await HsmFleet.open({ productTag: TAG, endpoints: [a, c].map((h) => ({ connector: h.url, pin: TEST_PIN })) }).catch((e) => e);
    expect(err2.message).toBe(
      `HSM 2 (${c.url}) holds a DAK of another product under the tag ${TAG}: its P-256 PRODUCT certificate (serial ${toHex(prodCert.serial)}) is not HSM 1's (serial ${toHex(PRODUCT.p256r1.caCerts[1]!.serial)})`,
    );
  }, 30_000);

  test("an HSM that comes back as another product's HSM (swapped in on its address) stays out of service", async () => {
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess()]);
    const events: FleetEvent[] = [];
    let reopened = 0;
    const fleet = await HsmFleet.open({
      productTag: TAG,
      retryMs: 100,
      endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN, requestTimeoutMs: 3000 })),
      onEvent: (e) => events.push(e),
      open: async (o) => {
        const store = await openCertStore(o);
        if (o.connector === a.url && events.length > 0) reopened++;
        return store;
      },
    });
    cleanups.push(() => fleet.close());
    a.proc.kill("SIGKILL");
    await a.proc.exited;
    const signed = await Promise.all(Array.from({ length: 2 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    expect(signed.map((s) => s.hsmSerial)).toEqual([String(b.serial), String(b.serial)]);
    await hsmProcess({ listen: `127.0.0.1:${a.port}`, pki: productPki() });
    for (let i = 0; i < 100 && reopened === 0; i++) await Bun.sleep(50);
    await Bun.sleep(50);
    expect(reopened).toBe(1);
    expect(fleet.inService).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["hsm-down"]);
  }, 30_000);

  test("an HSM whose chain does not verify (a damaged certificate in its store): the start is refused, naming it and the certificate", async () => {
    const sim = await startHsmSimulator({ listen: "127.0.0.1:0" });
    cleanups.push(() => sim.stop());
    const a = await hsmProcess();
    await loadTestChain({ connector: sim.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
    // One bit of the Ed25519 MANUFACTURER certificate's signature flips in B's store.
    const manSig = [...sim.device.state.objects.values()].find((o) => o.type === OBJECT_TYPE.OPAQUE && o.label.endsWith("MAN_ED25.signature"))!;
    manSig.data[5]! ^= 0x01;
    const err = await HsmFleet.open({ productTag: TAG, endpoints: [a, sim].map((h) => ({ connector: h.url, pin: TEST_PIN })) }).catch((e) => e);
    expect(err.message).toBe(
      `HSM 2 of 2 (${sim.url}): Ed25519 chain on the HSM: the MANUFACTURER certificate (serial ${toHex(PRODUCT.ed25519.caCerts[2]!.serial)}) does not verify against SIDEWALK`,
    );
    expect(err.advice).toBe("the HSM's certificates are damaged or mixed up; it must be provisioned again");
  }, 30_000);

  test("at start every HSM must hold the product's chain: one without it stops the start, named", async () => {
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess({ load: false })]);
    await loadTestChain({ connector: b.url, productTag: "TEST_DAK_OTHER", pin: TEST_PIN });
    const err = await HsmFleet.open({ productTag: TAG, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) }).catch((e) => e);
    expect(err.message).toBe(`HSM 2 of 2 (${b.url}): the HSM has no DAK for product tag ${TAG}`);
    expect(err.advice).toBe("product tags on this HSM: TEST_DAK_OTHER");
  }, 30_000);

  test("an HSM killed with signatures in flight: they are made on the other, none fails; it rejoins when it answers again", async () => {
    const a = await hsmProcess({ latency: "yubihsm2" });
    const b = await hsmProcess();
    const events: FleetEvent[] = [];
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 4, retryMs: 100, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN, requestTimeoutMs: 3000 })), onEvent: (e) => events.push(e) });
    cleanups.push(() => fleet.close());
    // Four at once: least loaded first puts two on each; A's take 122 ms, long enough to kill it under them.
    const inFlight = Array.from({ length: 4 }, (_, i) => fleet.signWithChain("ed25519", message(i)));
    await Bun.sleep(40);
    a.proc.kill("SIGKILL");
    await a.proc.exited;
    const first = await Promise.all(inFlight);
    expect(first.every((s) => s.hsmSerial === String(b.serial))).toBe(true);
    for (const [i, s] of first.entries()) expect(CURVES.ed25519.verify(s.signature, message(i), s.caCerts[0]!.publicKey)).toBe(true);
    expect(events[0]).toMatchObject({ type: "hsm-down", serial: a.serial, inService: 1 });
    // While A is away everything goes to B.
    const meanwhile = await Promise.all(Array.from({ length: 6 }, (_, i) => fleet.signWithChain("p256r1", message(i))));
    expect(new Set(meanwhile.map((s) => s.hsmSerial))).toEqual(new Set([String(b.serial)]));
    // A comes back on its address with its objects: the background retry takes it in again.
    await hsmProcess({ state: a.state, listen: `127.0.0.1:${a.port}`, load: false });
    for (let i = 0; i < 100 && fleet.inService < 2; i++) await Bun.sleep(100);
    expect(events.at(-1)).toMatchObject({ type: "hsm-up", serial: a.serial, inService: 2 });
    const after = await Promise.all(Array.from({ length: 8 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    expect(new Set(after.map((s) => s.hsmSerial))).toEqual(new Set([String(a.serial), String(b.serial)]));
  }, 60_000);

  test("least loaded first: a slow HSM gets fewer signatures than a fast one, and every signature verifies", async () => {
    // A answers in the device's time (121 ms per Ed25519 signature), B at once.
    const slow = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "yubihsm2" });
    const fast = await startHsmSimulator({ listen: "127.0.0.1:0" });
    cleanups.push(() => slow.stop(), () => fast.stop());
    for (const s of [slow, fast]) await loadTestChain({ connector: s.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 4, endpoints: [slow, fast].map((s) => ({ connector: s.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    // Four stations signing 6 each, back to back.
    const signed = (await Promise.all(Array.from({ length: 4 }, async (_, w) => {
      const out = [];
      for (let i = 0; i < 6; i++) out.push({ i: w * 6 + i, s: await fleet.signWithChain("ed25519", message(w * 6 + i)) });
      return out;
    }))).flat();
    for (const { i, s } of signed) expect(CURVES.ed25519.verify(s.signature, message(i), s.caCerts[0]!.publicKey)).toBe(true);
    const by = (serial: number) => signed.filter(({ s }) => s.hsmSerial === String(serial)).length;
    const [onSlow, onFast] = [by(slow.device.state.serial), by(fast.device.state.serial)];
    expect(onSlow + onFast).toBe(24);
    // Round robin would give 12 each; the slow one had signatures in flight each time the fast one was free.
    expect(onSlow).toBeGreaterThan(0);
    expect(onSlow).toBeLessThan(onFast);
  }, 30_000);

  test("the line records, per device, the serial of the HSM that signed it", async () => {
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess()]);
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 2, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    const run = await runStation({ transport: "pty", fixtures: 4, count: 8 }, { signer: fleet, count: 8 });
    expect(run.summary).toMatchObject({ provisioned: 8, failed: 0 });
    const rows = await run.ledger.list({ status: "provisioned" });
    expect(rows.length).toBe(8);
    for (const r of rows) expect([String(a.serial), String(b.serial), `${a.serial},${b.serial}`, `${b.serial},${a.serial}`]).toContain(r.hsmSerial!);
    // Each device names the Ed25519 DAK that signed it; signatures are counted per DAK: 8 over the two.
    for (const r of rows) expect(r.dak).toMatch(new RegExp(`^${TAG}/ed25519/[0-9a-f]{8}$`));
    const ids = [...new Set(rows.map((r) => r.dak!))];
    expect(ids.length).toBe(2);
    let total = 0;
    for (const id of ids) total += await run.ledger.signatureCount(id);
    expect(total).toBe(8);
    await run.ledger.close();
  }, 60_000);
});

describe("HsmFleet: an HSM's own error", () => {
  test("is answered by the other HSM (no device fails over one HSM's fault); with every HSM refusing, the error stands", async () => {
    const [a, b] = await Promise.all([hsmProcess(), hsmProcess()]);
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 1, endpoints: [a, b].map((h) => ({ connector: h.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    // Someone deletes HSM A's DAK keys mid-shift (with the factory key, still present on a test HSM).
    const deleteKeys = async (url: string) => {
      const admin = await HsmClient.connect({ url, authKeyId: 1, password: "password" });
      for (const k of await admin.listObjects({ type: OBJECT_TYPE.ASYMMETRIC_KEY })) await admin.deleteObject(k.id, OBJECT_TYPE.ASYMMETRIC_KEY);
      await admin.close();
    };
    await deleteKeys(a.url);
    const signed = await Promise.all(Array.from({ length: 4 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    expect(signed.every((s) => s.hsmSerial === String(b.serial))).toBe(true);
    await deleteKeys(b.url);
    await expect(fleet.signWithChain("ed25519", message(9))).rejects.toThrow(/OBJECT_NOT_FOUND/);
  }, 30_000);
});

describe("HsmFleet: a PIN rejected mid-shift", () => {
  test("takes that HSM out (the 30 s rejoin) after one try: the other signs everything, and the HSM keeps its free slots", async () => {
    // A's sessions time out quickly, so the fleet must open new ones there after the PIN changed.
    const log: string[] = [];
    const simA = await startHsmSimulator({ listen: "127.0.0.1:0", idleTimeoutMs: 300, log: (l) => log.push(l) });
    const simB = await startHsmSimulator({ listen: "127.0.0.1:0" });
    cleanups.push(() => simA.stop(), () => simB.stop());
    for (const s of [simA, simB]) await loadTestChain({ connector: s.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
    const events: FleetEvent[] = [];
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 2, retryMs: 50, endpoints: [simA, simB].map((s) => ({ connector: s.url, pin: TEST_PIN })), onEvent: (e) => events.push(e) });
    cleanups.push(() => fleet.close());
    // The line's PIN is changed on A (its authentication key replaced), and A's sessions lapse.
    const other = deriveAuthKey("a-new-pin");
    for (const slot of [5, 6]) {
      const key = simA.device.state.get(OBJECT_TYPE.AUTHENTICATION_KEY, slot);
      if (key) key.data = new Uint8Array([...other.encKey, ...other.macKey]);
    }
    await Bun.sleep(400);
    const before = log.length;
    const signed = [];
    for (let i = 0; i < 8; i++) signed.push(await fleet.signWithChain("ed25519", message(i)));
    expect(signed.map((s) => s.hsmSerial)).toEqual(Array(8).fill(String(simB.device.state.serial)));
    for (const [i, s] of signed.entries()) expect(CURVES.ed25519.verify(s.signature, message(i), s.caCerts[0]!.publicKey)).toBe(true);
    // One authentication tried on A, not one per signature (each holds a slot for 30 s).
    expect(log.slice(before).filter((l) => l.includes("create-session")).length).toBe(1);
    expect(events).toEqual([{ type: "hsm-down", hsm: simA.url, serial: simA.device.state.serial, error: "the HSM rejected the PIN for authentication key slot 5", inService: 1 }]);
    expect(fleet.status()[0]).toMatchObject({ up: false, error: "the HSM rejected the PIN for authentication key slot 5" });
    expect(fleet.health.state).toBe("ok");
  }, 30_000);
});

describe("HsmFleet: SESSIONS_FULL", () => {
  test("an HSM whose 16 sessions another client holds: its signatures go to the other, nothing fails; it is used again once free", async () => {
    // In-process simulators with a short idle timeout, so the fleet's own session on A expires.
    const simA = await startHsmSimulator({ listen: "127.0.0.1:0", idleTimeoutMs: 1500 });
    const simB = await startHsmSimulator({ listen: "127.0.0.1:0" });
    cleanups.push(() => simA.stop(), () => simB.stop());
    for (const s of [simA, simB]) await loadTestChain({ connector: s.url, productTag: TAG, pin: TEST_PIN, pki: anotherDak(PRODUCT) });
    const fleet = await HsmFleet.open({ productTag: TAG, sessions: 2, endpoints: [simA, simB].map((s) => ({ connector: s.url, pin: TEST_PIN })) });
    cleanups.push(() => fleet.close());
    await Bun.sleep(1700);
    // Another program takes every session of A.
    const connector = new Connector({ url: simA.url });
    const others = await Promise.all(Array.from({ length: 16 }, () => HsmSession.open(connector, 1, deriveAuthKey("password"))));
    // ... and keeps them busy (an idle one would expire after 1.5 s).
    const keepAlive = setInterval(() => others.forEach((o) => void o.send(echo, new Uint8Array([1])).catch(() => {})), 300);
    const signed = await Promise.all(Array.from({ length: 6 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    // None fails. (The fleet's stale session on A, whose slot another client now has, ends that
    // client's session on the device, as a real YubiHSM 2 does: A may then sign again.)
    expect(signed.length).toBe(6);
    for (const [i, s] of signed.entries()) expect(CURVES.ed25519.verify(s.signature, message(i), s.caCerts[0]!.publicKey)).toBe(true);
    expect(signed.filter((s) => s.hsmSerial === String(simB.device.state.serial)).length).toBeGreaterThan(0);
    expect(fleet.health.state).toBe("ok");
    clearInterval(keepAlive);
    for (const s of others) await s.close();
    // After its back-off A takes signatures again.
    await Bun.sleep(600);
    const later = await Promise.all(Array.from({ length: 8 }, (_, i) => fleet.signWithChain("ed25519", message(i))));
    expect(later.some((s) => s.hsmSerial === String(simA.device.state.serial))).toBe(true);
  }, 30_000);
});
