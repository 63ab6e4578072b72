// Serial provisioning of secure-element devices with the atecc608-esp32 profile against the
// board simulator over TCP on 127.0.0.1: certificates sent, read back, compared; a board that
// stores a damaged copy is caught on read-back and never told to commit.
import { afterAll, describe, expect, test } from "bun:test";
import { fileSigner } from "../../src/x509/ca-signer.ts";
import { createLabCa, loadCa } from "../../src/x509/ca.ts";
import { certificatePem, certificateDer } from "../../src/x509/certificate.ts";
import { openDeviceChannel } from "../../src/transport/open.ts";
import { provisionDevice, ProvisionError } from "../../src/x509/provision/engine.ts";
import { loadProfile, parseProfile } from "../../src/x509/provision/profile.ts";
import { startAtecc608OnPty, startAtecc608OnTcp, type Atecc608Simulator } from "../../src/x509/simulator/host.ts";
import type { Atecc608Options } from "../../src/x509/simulator/atecc608.ts";
import { parseDevicePublicKey, publicKeyPem } from "../../src/x509/pubkey.ts";
import { toPem } from "../../src/lib/pem.ts";
import { spkiDer } from "../../src/x509/certificate.ts";

const lab = await createLabCa({ subject: "CN=Provisioning CA,O=Acme" });
const signer = fileSigner(new TextEncoder().encode(lab.keyPem), "ca.key");
const ca = loadCa(new TextEncoder().encode(lab.certPem), signer);
const profile = loadProfile("atecc608-esp32");
const fast = { settleMs: 20, lineDelayMs: 5 };

const sims: Atecc608Simulator[] = [];
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

async function provisionOnSimulator(options: Atecc608Options = {}, transport: "tcp" | "pty" = "tcp") {
  const sim = transport === "pty" ? await startAtecc608OnPty(options) : await startAtecc608OnTcp(options);
  sims.push(sim);
  const channel = await openDeviceChannel(sim.port);
  try {
    // A pseudo-terminal may hand two quick lines to the firmware as one UART event, which it
    // would truncate (as a real board does), so the lines are paced further apart there.
    const pacing = transport === "pty" ? { settleMs: 50, lineDelayMs: 40 } : fast;
    const result = await provisionDevice(channel, profile, { ca, signer, ...pacing });
    return { sim, board: sim.boards[0]!, result };
  } catch (error) {
    return { sim, board: sim.boards[0]!, error: error as ProvisionError };
  } finally {
    await channel.close();
  }
}

describe("x509 provision: atecc608-esp32 profile over TCP", () => {
  test("a good board: certificate for its key, everything read back, board provisioned", async () => {
    const { board, result, error } = await provisionOnSimulator({ serial: "0123c4b09bb2b877ee" });
    expect(error).toBeUndefined();
    expect(result!.serial).toBe("0123c4b09bb2b877ee");
    expect(result!.publicKeyPem).toBe(board.state.publicKeyPem!);
    expect(result!.certificate.report.certificate.subject).toBe("CN=0123c4b09bb2b877ee");
    expect(result!.certificate.report.ok).toBe(true);
    expect(board.state.provisioned).toBe(true);
    expect(board.state.deviceCertificate).toBe(result!.certificate.pem);
    expect(board.state.signerCertificate).toBe(lab.certPem);
    expect(board.state.rootPublicKey).toBe(toPem("PUBLIC KEY", spkiDer(ca)));
    expect(publicKeyPem(parseDevicePublicKey(result!.certificate.pem))).toBe(board.state.publicKeyPem!);
    expect(result!.steps.map((s) => `${s.send} ${s.detail}`)).toEqual([
      "r device ready (attempt 1)",
      "s serial 0123c4b09bb2b877ee",
      "k P-256 public key read",
      `c signer-certificate sent (${certificateDer(ca).length} bytes)`,
      `v device-certificate sent (${result!.certificate.der.length} bytes)`,
      "b root-public-key sent (91 bytes)",
      "p signer-certificate and device-certificate read back identical",
      "o root-public-key read back identical",
      "q device reports success",
    ]);
  });

  for (const object of ["device-certificate", "signer-certificate", "root-public-key"] as const) {
    test(`a board that stores a damaged ${object}: caught on read-back, never committed`, async () => {
      const { board, error } = await provisionOnSimulator({ corrupt: object });
      expect(error).toBeInstanceOf(ProvisionError);
      expect(error!.message).toMatch(new RegExp(`read-back: the ${object} stored on the device differs from what was sent \\(first difference at byte \\d+ of \\d+\\)`));
      expect(error!.steps.map((s) => s.send).join("")).toBe(object === "root-public-key" ? "rskcvbp" : "rskcvb");
      expect(board.state.provisioned).toBe(false);
      expect(error!.transcript.filter((t) => t.direction === "sent").map((t) => t.text)).not.toContain("q");
    });
  }

  test("a copy damaged once in transit is sent again and then reads back identical", async () => {
    const { board, result, error } = await provisionOnSimulator({ damageOnce: "device-certificate" });
    expect(error).toBeUndefined();
    expect(result!.steps[6]!.detail).toBe("signer-certificate and device-certificate read back identical (attempt 2)");
    expect(board.state.provisioned).toBe(true);
    expect(board.state.deviceCertificate).toBe(result!.certificate.pem);
  });

  test("a board whose chip write fails: the device's failure is reported", async () => {
    const { board, error } = await provisionOnSimulator({ failWrite: "device-certificate" });
    expect(error!.message).toContain("the device reported a failure while storing: Failed to write device certificate: 224");
    expect(board.state.provisioned).toBe(false);
  });

  test("a host that sends a whole certificate in one write loses all but the first UART event", async () => {
    const sim = await startAtecc608OnTcp({ bootLog: false });
    sims.push(sim);
    const channel = await openDeviceChannel(sim.port);
    let received = "";
    channel.onData((chunk) => (received += Buffer.from(chunk).toString("latin1")));
    const pause = () => new Promise((r) => setTimeout(r, 30));
    await channel.write(new TextEncoder().encode("c"));
    await pause();
    await channel.write(new TextEncoder().encode(lab.certPem));
    await pause();
    await channel.write(new TextEncoder().encode("p"));
    await pause();
    // Still waiting for the END line, so "p" was taken as certificate text and nothing came back.
    expect(received).toBe("");
    await channel.write(new TextEncoder().encode("-----END CERTIFICATE-----\n"));
    await pause();
    await channel.write(new TextEncoder().encode("p"));
    await pause();
    const stored = lab.certPem.slice(0, 120) + "p-----END CERTIFICATE-----\n";
    expect(received.replace(/\0+/g, "")).toBe(stored);
    expect(received.length % 65).toBe(0);
    expect(sim.boards[0]!.state.signerCertificate).toBe(stored);
    await channel.close();
  });

  test("nothing listening, or silence: clear errors", async () => {
    await expect(openDeviceChannel("socket://127.0.0.1:1")).rejects.toThrow("socket://127.0.0.1:1: cannot connect");
    const { createServer } = await import("node:net");
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as { port: number }).port;
    const channel = await openDeviceChannel(`socket://127.0.0.1:${port}`);
    const quick = parseProfile({ ...rawProfile(), subject: "CN=x", steps: [{ do: "handshake", send: "r", expect: "Ready\\.", attempts: 2, timeoutMs: 50 }, { do: "read-public-key", send: "k", timeoutMs: 50 }] }, "quick");
    await expect(provisionDevice(channel, quick, { ca, signer })).rejects.toThrow(`socket://127.0.0.1:${port}: no answer matching /Ready\\./ to "r" within 50 ms; the device printed nothing`);
    await channel.close();
    silent.close();
  });
});

describe.skipIf(process.platform !== "linux")("x509 provision: atecc608-esp32 profile over a real pseudo-terminal", () => {
  test("a good board", async () => {
    const { sim, board, result, error } = await provisionOnSimulator({}, "pty");
    expect(sim.port).toMatch(/^\/dev\/pts\/\d+$/);
    expect(error).toBeUndefined();
    expect(result!.port).toBe(sim.port);
    expect(board.state.provisioned).toBe(true);
    expect(board.state.deviceCertificate).toBe(result!.certificate.pem);
    expect(result!.certificate.report.certificate.subject).toBe(`CN=${board.state.serial}`);
  });

  test("a board that stores a damaged device certificate is caught on read-back", async () => {
    const { board, error } = await provisionOnSimulator({ corrupt: "device-certificate" }, "pty");
    expect(error!.message).toMatch(/^\/dev\/pts\/\d+: read-back: the device-certificate stored on the device differs from what was sent/);
    expect(board.state.provisioned).toBe(false);
  });
});

function rawProfile(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(require("../../src/x509/profiles/atecc608-esp32.json")));
}

describe("x509 provision: profiles", () => {
  test("the built-in profile", () => {
    expect(profile.name).toBe("atecc608-esp32");
    expect(profile.steps.map((s) => s.send).join("")).toBe("rskcvbpoq");
  });

  test("bad profiles are refused with the reason", () => {
    const base = rawProfile();
    const bad = (change: Record<string, unknown>) => () => parseProfile({ ...base, ...change }, "p.json");
    expect(bad({ steps: [] })).toThrow('profile p.json: "steps" must be a non-empty list');
    expect(bad({ steps: [{ do: "dance", send: "x" }] })).toThrow('profile p.json, step 1: "do" must be handshake');
    expect(bad({ steps: [{ do: "read-serial", send: "s", match: "[0-9a-f]{18}" }] })).toThrow('"match" needs a capture group');
    expect(bad({ steps: [{ do: "handshake", send: "r", expect: "(" }] })).toThrow('"expect" is not a valid regular expression');
    expect(bad({ steps: [{ do: "send-pem", send: "v", item: "device-certificate" }] })).toThrow("the device certificate is used before a read-public-key step");
    expect(bad({ steps: [{ do: "read-public-key", send: "k" }, { do: "read-back", send: "p", items: ["signer-certificate"] }] })).toThrow("read-back of signer-certificate, which no send-pem step sends");
    expect(bad({ steps: [{ do: "send-pem", send: "c", item: "firmware" }] })).toThrow('"item" must be one of');
    expect(bad({ steps: [{ do: "read-public-key", send: "k" }] })).toThrow('"subject" uses {serial} but no read-serial step reads it');
    expect(() => loadProfile("no-such-profile")).toThrow('profile "no-such-profile" is neither built in nor a file');
  });

  test("an RSA CA cannot be used with a profile that stores the root key in the chip", async () => {
    const rsa = await createLabCa({ subject: "CN=RSA CA", keyType: "rsa2048" });
    const rsaSigner = fileSigner(new TextEncoder().encode(rsa.keyPem), "rsa.key");
    const rsaCa = loadCa(new TextEncoder().encode(rsa.certPem), rsaSigner);
    const sim = await startAtecc608OnTcp();
    sims.push(sim);
    const channel = await openDeviceChannel(sim.port);
    await expect(provisionDevice(channel, profile, { ca: rsaCa, signer: rsaSigner, ...fast })).rejects.toThrow(
      "profile atecc608-esp32 stores the root public key in the secure element, which holds P-256 keys only: x509.pubkey: this is an RSA key, not a P-256 EC key",
    );
    await channel.close();
    void certificatePem;
  });
});
