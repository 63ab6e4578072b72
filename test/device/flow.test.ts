// The per-device flow against the seed transcript byte for byte (a scripted device on a real
// pseudo-terminal checks every command the PC sends), and against the HSM simulator over HTTP.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { deviceSmsn, provisionDevice } from "../../src/device/flow.ts";
import { openDeviceLink } from "../../src/transport/open.ts";
import { CertClient } from "../../src/device/protocol/client.ts";
import { openPty } from "../../src/transport/pty.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { openCertStore, loadTestChain } from "../../src/signer/hsm/index.ts";
import { equal, decodeChainBase64, fromBase64, toBeSigned, type Cert, type Curve, type DakSigner } from "../../src/sidewalk/index.ts";
import { openLedger } from "../../src/ledger/ledger.ts";
import { fixedDsn } from "../../src/device/dsn.ts";
import { deviceSession, seed } from "../helpers/vectors.ts";
import { APP_KEY, controlLogs, runStation, tempDir, testSigner } from "./station.ts";

/**
 * A DakSigner made of the seed's real chains: the CA certificates above the device, and the
 * DAK's published signature for the one device certificate of the transcript.
 */
function seedSigner(): DakSigner {
  const chains = { ed25519: decodeChainBase64(seed.chain.ed25519.base64, "ed25519"), p256r1: decodeChainBase64(seed.chain.p256r1.base64, "p256r1") };
  return {
    productTag: "RNET_DAK_SEED",
    stage: "production",
    kind: "sidewalk",
    caCerts: (curve: Curve): readonly Cert[] => chains[curve].certs.slice(1),
    async sign(curve, message) {
      const device = chains[curve].certs[0]!;
      if (!equal(message, toBeSigned(device.publicKey, device.serial))) throw new Error("the seed holds no DAK signature for this message");
      return device.signature;
    },
  };
}

describe("seed transcript", () => {
  test("the flow sends exactly the transcript's commands and writes the seed's chains to the control log", async () => {
    const lines = deviceSession.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    // Pair each command with the device lines that follow it.
    const script: { command: string; answer: string[] }[] = [];
    for (const l of lines) {
      if (l.startsWith("--> ")) script.push({ command: l.slice(4), answer: [] });
      else script.at(-1)!.answer.push(l);
    }
    const pty = openPty();
    const received: string[] = [];
    let input = "";
    pty.onData((chunk) => {
      input += Buffer.from(chunk).toString("latin1");
      let end: number;
      while ((end = input.indexOf("\r\n")) >= 0) {
        const command = input.slice(0, end);
        input = input.slice(end + 2);
        received.push(command);
        // sync-<nonce> lines are not in the transcript: the flow must not need them.
        const step = script[received.length - 1];
        const answer = step && step.command === command ? step.answer : ["{CERT ERROR -11}"];
        void pty.write(Buffer.from(`--> ${command}\r\n${answer.map((a) => `${a}\r\n`).join("")}`, "latin1"));
      }
    });
    const dir = tempDir();
    const link = await openDeviceLink(pty.path);
    try {
      const result = await provisionDevice(new CertClient(link, { timeoutMs: 1000 }), {
        signer: seedSigner(),
        deviceType: seed.smsn.device_type,
        dsn: seed.smsn.dsn,
        apid: seed.smsn.apid,
        smsn: deviceSmsn({ deviceType: seed.smsn.device_type, dsn: seed.smsn.dsn, apid: seed.smsn.apid }),
        appServerPublicKey: fromBase64(seed.app_server_public_key_base64),
        controlLogDir: dir,
      });
      expect(received).toEqual(script.map((s) => s.command));
      expect(result.smsn).toBe(seed.smsn.smsn_hex);
      expect(controlLogs(dir)).toEqual([
        { version: "4-0-1", serialNumber: seed.smsn.smsn_hex, apid: "pd25", ed25519Chain: seed.chain.ed25519.base64, p256r1Chain: seed.chain.p256r1.base64, label: "production" },
      ]);
    } finally {
      await link.close();
      await pty.close();
    }
  });
});

describe("with the HSM simulator over HTTP", () => {
  let hsm: HsmSimulator | undefined;
  afterAll(async () => {
    await hsm?.stop();
  });

  test("two fixtures signed by the HSM's DAK through the session pool; the ledger counts DAK signatures", async () => {
    hsm = await startHsmSimulator();
    const pin = "line-test-pin";
    await loadTestChain({ connector: hsm.url, productTag: "TEST_DAK_LINE", pin });
    const signer = await openCertStore({ connector: hsm.url, pin, productTag: "TEST_DAK_LINE", sessions: 2 });
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    try {
      const run = await runStation({ transport: "pty", fixtures: 2 }, { signer, count: 4, dir, ledger, maxSignatures: 5 });
      expect(run.summary).toMatchObject({ provisioned: 4, failed: 0 });
      const logs = controlLogs(dir);
      expect(logs.length).toBe(4);
      const stored = run.sim.devices().filter((d) => d.stored);
      expect(stored.length).toBe(4);
      // The DAK in every stored device is the HSM's.
      for (const d of stored) expect(d.stored!.caPublicKeys.ed25519[0]).toBe(Buffer.from(signer.dakPublicKey("ed25519")).toString("hex"));
      const rows = (await ledger.list({ status: "provisioned" }));
      expect(rows.every((r) => r.hsmSerial === String(signer.hsmSerial) && r.dak?.startsWith("TEST_DAK_LINE/ed25519/"))).toBe(true);
      expect((await ledger.signatureCount(rows[0]!.dak!))).toBe(4);
      expect(run.events.filter((e) => e.type === "warning").map((e) => (e as { message: string }).message)).toContainEqual(expect.stringContaining("of its 5 allowed signatures"));
      expect(APP_KEY.length).toBe(32);
    } finally {
      await signer.close();
      await ledger.close();
    }
  }, 30_000);
});

describe("signing overlapped with writing", () => {
  test("the Ed25519 chain is written while the P-256 signature is made; a failed P-256 signature stops the device at sign, counted once", async () => {
    const base = testSigner();
    let releaseP256!: (ok: boolean) => void;
    const p256Gate = new Promise<boolean>((r) => (releaseP256 = r));
    // The P-256 signature waits until the device has taken the whole Ed25519 chain, then fails
    // the way an HSM that lost its session does.
    const signer: DakSigner = Object.assign(Object.create(base) as DakSigner, {
      async sign(curve: Curve, message: Uint8Array) {
        if (curve === "p256r1" && !(await p256Gate)) throw new Error("HSM session lost");
        return base.sign(curve, message);
      },
    });
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    try {
      const run = await runStation(
        { transport: "pty", count: 1 },
        {
          signer,
          dir,
          ledger,
          dsnSource: fixedDsn("SN88"),
          retries: 0,
          onEvent: (e) => {
            if (e.type === "step" && e.step === "chain-p256r1") throw new Error("the P-256 chain started before its signature");
            if (e.type === "step" && e.step === "chain-ed25519") setTimeout(() => releaseP256(false), 200);
          },
        },
      );
      expect(run.summary).toMatchObject({ provisioned: 0, failed: 1 });
      const steps = run.events.filter((e) => e.type === "step").map((e) => (e as { step: string }).step);
      expect(steps).toEqual(["init", "smsn", "csr-ed25519", "csr-p256r1", "verify-csr", "sign", "chain-ed25519"]);
      expect(run.events.find((e) => e.type === "device-failed")).toMatchObject({ step: "sign", error: "sign: HSM session lost" });
      expect(controlLogs(dir)).toEqual([]);
      expect(run.sim.devices()[0]!.stored).toBeUndefined();
      const dak = (curve: Curve) => `${signer.productTag}/${curve}/${Buffer.from(signer.caCerts(curve)[0]!.serial).toString("hex")}`;
      expect([(await ledger.signatureCount(dak("ed25519"))), (await ledger.signatureCount(dak("p256r1")))]).toEqual([1, 0]);
    } finally {
      await ledger.close();
    }
  }, 20_000);
});
