// The client against the simulator over real transports on 127.0.0.1: plain HTTP, HTTPS with
// client certificates through a mutual-TLS proxy, a dead or wrong connector, a tampered
// response MAC, the 16-session limit, capabilities, and a session the HSM timed out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HsmClient, openAuthenticatedClient } from "../../src/hsm/client.ts";
import { HsmConnectionError, HsmDeviceError, HsmPinRejectedError } from "../../src/hsm/errors.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { openCertStore, loadTestChain } from "../../src/signer/hsm/index.ts";
import { ALGORITHM, capability } from "../../src/hsm/protocol.ts";
import { SecureChannelError } from "../../src/hsm/secure-channel.ts";
import { HsmSession } from "../../src/hsm/session.ts";
import { SessionPool } from "../../src/hsm/pool.ts";
import { echo } from "../../src/hsm/commands/echo.ts";
import { Connector } from "../../src/hsm/transport.ts";
import { deriveAuthKey } from "../../src/hsm/secure-channel.ts";
import { CURVES } from "../../src/sidewalk/curves.ts";
import { UsageError } from "../../src/lib/errors.ts";
import { makeTlsFiles, startMtlsProxy, startTamperingProxy, type TestPkiFiles } from "./helpers.ts";

const PIN = "2468";
let sim: HsmSimulator;
beforeAll(async () => {
  sim = await startHsmSimulator();
  await loadTestChain({ connector: sim.url, productTag: "TEST_DAK_NET", pin: PIN });
});
afterAll(() => sim.stop());

const factory = (url = sim.url, sessions = 1) => HsmClient.connect({ url, authKeyId: 1, password: "password", sessions });

describe("connector", () => {
  test("connector down: a clear message", async () => {
    const dead = await startHsmSimulator();
    const url = dead.url;
    await dead.stop();
    const err = await factory(url).catch((e) => e);
    expect(err).toBeInstanceOf(HsmConnectionError);
    expect(err.message).toBe(`cannot reach the HSM connector at ${url}: connection refused (nothing listens there)`);
    expect(err.advice).toContain("swtool hsm simulate");
  });
  test("something that is not a yubihsm-connector", async () => {
    const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("<html>router</html>") });
    try {
      const err = await factory(`http://127.0.0.1:${other.port}`).catch((e) => e);
      expect(err.message).toBe(`http://127.0.0.1:${other.port} answers HTTP 200 but is not a yubihsm-connector (no status on /connector/status)`);
    } finally {
      await other.stop(true);
    }
  });
  test("plain http to another machine is refused unless allowed", () => {
    expect(() => new Connector({ url: "http://10.1.2.3:12345" })).toThrow(UsageError);
    expect(() => new Connector({ url: "http://10.1.2.3:12345" })).toThrow("refusing plain http:// to 10.1.2.3");
    expect(() => new Connector({ url: "http://10.1.2.3:12345", allowInsecureConnector: true })).not.toThrow();
    expect(() => new Connector({ url: "http://localhost:12345" })).not.toThrow();
    expect(() => new Connector({ url: "ftp://localhost" })).toThrow("must start with http:// or https://");
    expect(() => new Connector({ url: "https://h:1", tls: { cert: "c.pem" } })).toThrow("needs its key");
  });
});

describe("HTTPS with client certificates", () => {
  let files: TestPkiFiles;
  let proxy: { url: string; stop(): Promise<void> };
  beforeAll(() => {
    files = makeTlsFiles();
    proxy = startMtlsProxy(sim.url, files);
  });
  afterAll(async () => {
    await proxy.stop();
    files.cleanup();
  });
  test("signs on both curves through the mutual-TLS proxy", async () => {
    const store = await openCertStore({ connector: proxy.url, pin: PIN, productTag: "TEST_DAK_NET", tls: { ca: files.ca, cert: files.clientCert, key: files.clientKey } });
    try {
      for (const curve of ["ed25519", "p256r1"] as const) {
        const msg = new Uint8Array([7, 7, 7]);
        expect(CURVES[curve].verify(await store.sign(curve, msg), msg, store.dakPublicKey(curve))).toBe(true);
      }
    } finally {
      await store.close();
    }
  });
  test("without a client certificate the proxy refuses", async () => {
    const err = await openCertStore({ connector: proxy.url, pin: PIN, productTag: "TEST_DAK_NET", tls: { ca: files.ca } }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmConnectionError);
    expect(err.advice).toContain("--client-cert");
  });
  test("a client certificate from another CA is refused", async () => {
    const err = await openCertStore({ connector: proxy.url, pin: PIN, productTag: "TEST_DAK_NET", tls: { ca: files.ca, cert: files.rogueCert, key: files.rogueKey } }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmConnectionError);
  });
  test("a server the CA did not sign is refused (verification is always on)", async () => {
    const err = await openCertStore({ connector: proxy.url, pin: PIN, productTag: "TEST_DAK_NET", tls: { ca: files.rogueCert.replace("rogue.pem", "rogue-ca.pem"), cert: files.clientCert, key: files.clientKey } }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmConnectionError);
    expect(err.message).toContain("TLS");
  });
});

describe("sessions and the device's rules", () => {
  test("a 17th session is refused with SESSIONS_FULL", async () => {
    const s = await startHsmSimulator();
    try {
      const connector = new Connector({ url: s.url });
      const key = deriveAuthKey("password");
      const open = await Promise.all(Array.from({ length: 16 }, () => HsmSession.open(connector, 1, key)));
      const err = await HsmSession.open(connector, 1, key).catch((e) => e);
      expect(err).toBeInstanceOf(HsmDeviceError);
      expect(err.codeName).toBe("SESSIONS_FULL");
      expect(err.message).toBe("all 16 sessions of the HSM are in use (create-session with authentication key 0x0001: device error 0x05 SESSIONS_FULL)");
      await open[3]!.close();
      const again = await HsmSession.open(connector, 1, key);
      await Promise.all([...open, again].map((x) => x.close()));
    } finally {
      await s.stop();
    }
  });
  test("missing capability: the Sidewalk slot cannot write", async () => {
    const c = await HsmClient.connect({ url: sim.url, authKeyId: 5, password: PIN });
    try {
      const err = await c.putOpaque({ id: 0x99, label: "x", domains: 1, capabilities: 0n, algorithm: ALGORITHM.OPAQUE_DATA }, new Uint8Array([1])).catch((e) => e);
      expect(err.codeName).toBe("INSUFFICIENT_PERMISSIONS");
      expect(err.message).toBe('the HSM key slot used does not have the capability this needs (put-opaque 0x0099 "x": device error 0x09 INSUFFICIENT_PERMISSIONS)');
      expect((await c.getPseudoRandom(4).catch((e) => e)).codeName).toBe("INSUFFICIENT_PERMISSIONS");
    } finally {
      await c.close();
    }
  });
  test("a key without the sign capability cannot sign", async () => {
    const c = await factory();
    try {
      const id = await c.generateAsymmetricKey({ id: 0x200, label: "no-sign", domains: 1, capabilities: capability("SIGN_ECDSA"), algorithm: ALGORITHM.EC_ED25519 });
      expect((await c.signEddsa(id, new Uint8Array(1)).catch((e) => e)).codeName).toBe("INSUFFICIENT_PERMISSIONS");
      await c.deleteObject(id, 3);
    } finally {
      await c.close();
    }
  });
  test("missing object and objects outside the slot's domains", async () => {
    const c = await factory();
    const id = await c.putOpaque({ id: 0x300, label: "domain-2", domains: 2, capabilities: 0n, algorithm: ALGORITHM.OPAQUE_DATA }, new Uint8Array([9]));
    await c.close();
    const line = await HsmClient.connect({ url: sim.url, authKeyId: 5, password: PIN });
    try {
      const err = await line.getOpaque(0x300).catch((e) => e);
      expect(err.codeName).toBe("OBJECT_NOT_FOUND");
      expect(err.message).toBe("the HSM has no such object (or the key slot may not see it) (get-opaque 0x0300: device error 0x0b OBJECT_NOT_FOUND)");
      expect((await line.listObjects()).some((o) => o.id === id)).toBe(false);
    } finally {
      await line.close();
    }
  });
  test("wrong PIN on a slot", async () => {
    const err = await HsmClient.connect({ url: sim.url, authKeyId: 5, password: "1357" }).catch((e) => e);
    expect(err).toBeInstanceOf(HsmPinRejectedError);
    expect(err.message).toBe("the HSM rejected the PIN for authentication key slot 5");
  });
  test("a tampered response MAC aborts the session", async () => {
    let tamper = false;
    const proxy = startTamperingProxy(sim.url, (answer) => {
      if (tamper && answer[0] === 0x85) answer[answer.length - 1]! ^= 0x01;
      return answer;
    });
    try {
      const c = await factory(proxy.url);
      expect(await c.echo(new Uint8Array([1]))).toEqual(new Uint8Array([1]));
      tamper = true;
      const err = await c.echo(new Uint8Array([2])).catch((e) => e);
      expect(err).toBeInstanceOf(SecureChannelError);
      expect(err.message).toBe("secure channel: the response MAC does not verify");
      tamper = false;
      expect(c.openSessions).toBe(0);
      await c.close();
    } finally {
      await proxy.stop();
    }
  });
  test("a session the HSM timed out is re-opened transparently once", async () => {
    const s = await startHsmSimulator({ idleTimeoutMs: 150 });
    try {
      const c = await factory(s.url);
      expect(await c.echo(new Uint8Array([1]))).toEqual(new Uint8Array([1]));
      await Bun.sleep(300);
      expect(await c.echo(new Uint8Array([2]))).toEqual(new Uint8Array([2]));
      expect(c.openSessions).toBe(1);
      await c.close();
    } finally {
      await s.stop();
    }
  });
  test("commands need a session; an unknown session is INVALID_SESSION", async () => {
    const connector = new Connector({ url: sim.url });
    const answer = await connector.send(new Uint8Array([0x48, 0x00, 0x00]));
    expect([...answer]).toEqual([0x7f, 0x00, 0x01, 0x01]);
    const bogus = await connector.send(new Uint8Array([0x05, 0x00, 0x19, 0x0f, ...new Uint8Array(24)]));
    expect([...bogus]).toEqual([0x7f, 0x00, 0x01, 0x03]);
  });
});

describe("openAuthenticatedClient", () => {
  const connector = () => new Connector({ url: sim.url });
  test("a slot without a key moves on to the next", async () => {
    const client = await openAuthenticatedClient(connector(), PIN, [9, 5]);
    try {
      expect(client.authKeyId).toBe(5);
    } finally {
      await client.close();
    }
  });
  test("no slot holds a key: OBJECT_NOT_FOUND naming every slot tried", async () => {
    const err = await openAuthenticatedClient(connector(), PIN, [9, 10]).catch((e) => e);
    expect(err).toBeInstanceOf(HsmDeviceError);
    expect(err.codeName).toBe("OBJECT_NOT_FOUND");
    expect(err.code).toBe(0x0b);
    expect(err.message).toContain("create-session with authentication key 0x0009 or 0x000a");
    expect(err.advice).toBe("this HSM has no authentication key in slot 9 or 10; check it is the right HSM, or give --pin-slot");
  });
  test("a wrong PIN ends at once: the next slot is not tried", async () => {
    const err = await openAuthenticatedClient(connector(), "9999-wrong", [5, 1]).catch((e) => e);
    expect(err).toBeInstanceOf(HsmPinRejectedError);
    expect(err.message).toBe("the HSM rejected the PIN for authentication key slot 5");
  });
});

describe("sessions retired at their command limit", () => {
  test("a pool whose sessions carry 3 commands serves 10 calls, closing each spent session on the device", async () => {
    const log: string[] = [];
    const own = await startHsmSimulator({ log: (line) => log.push(line) });
    try {
      const connector = new Connector({ url: own.url });
      const pool = new SessionPool(connector, 1, deriveAuthKey("password"), 1, 3);
      for (let i = 0; i < 10; i++) expect(await pool.use((s) => s.send(echo, new Uint8Array([i])))).toEqual(new Uint8Array([i]));
      await pool.close();
      // Two echoes and a CLOSE SESSION per session: five sessions, every one closed.
      expect(log.filter((l) => l.includes("create-session")).length).toBe(5);
      expect(log.filter((l) => l.includes("close-session: ok")).length).toBe(5);
      expect(own.device.sessions.inUse).toBe(0);
    } finally {
      await own.stop();
    }
  });
});

