// The device simulator as firmware: driven through a real pseudo-terminal with swtool's
// termios binding on the PC side, it must give the Factory Diagnostic Firmware's answers and
// error codes (sid_on_dev_cert.c / sid_on_dev_cert_cli.c) at every step.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openDeviceLink } from "../../src/transport/open.ts";
import { CertClient, DeviceCommandError } from "../../src/device/protocol/client.ts";
import { startDeviceSimulator, type DeviceSimulator } from "../../src/device/simulator/host.ts";
import { splitArguments } from "../../src/device/simulator/shell.ts";
import { CURVES, encodeChain, fromBase64, issueDeviceChain, makeTestPki, toBase64, toHex, type Curve } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

let sim: DeviceSimulator;
let client: CertClient;

beforeAll(async () => {
  sim = await startDeviceSimulator({ transport: "pty", swapOnDeinit: false });
  client = new CertClient(await openDeviceLink(sim.ports[0]!), { timeoutMs: 1000 });
});

afterAll(async () => {
  await client.link.close();
  await sim.close();
});

async function code(words: string, args: string[] = []): Promise<number | string> {
  try {
    await client.command(words, args);
    return 0;
  } catch (e) {
    if (!(e instanceof DeviceCommandError)) throw e;
    return e.reason === "device-error" ? e.code! : e.reason;
  }
}

const pieces = (text: string) => text.match(/.{1,32}/g)!;
const joined = async (words: string, args: string[] = []) => (await client.command(words, args)).pieces.join("");

async function writeChain(curve: Curve, bytes: Uint8Array): Promise<number | string> {
  await client.command("cert chain start", [curve]);
  for (const p of pieces(toBase64(bytes))) {
    const c = await code("cert chain write", [p]);
    if (c !== 0) return c;
  }
  return code("cert chain commit");
}

describe("state machine and error codes", () => {
  test("before init: smsn and csr are UNINITIALIZED, deinit is always OK", async () => {
    await client.command("cert deinit");
    expect(await code("cert smsn", ["A17XHX23H06INH", "SN1234567", "pd25"])).toBe(-25);
    expect(await code("cert csr", ["ed25519"])).toBe(-25);
    expect(await code("cert store")).toBe(-25);
    expect(await code("cert deinit")).toBe(0);
  });

  test("init reports the MTU; smsn is the seed's SMSN", async () => {
    const answer = await client.command("cert init");
    expect(answer.mtu).toBe(32);
    expect(client.mtu).toBe(32);
    expect(toHex(fromBase64(await joined("cert smsn", ["A17XHX23H06INH", "SN1234567", "pd25"])))).toBe(seed.smsn.smsn_hex);
  });

  test("argument checks: APID length, DSN length, curve names, piece length", async () => {
    await client.command("cert init");
    expect(await code("cert smsn", ["A17XHX23H06INH", "SN1234567", "pd2"])).toBe(-11);
    expect(await code("cert smsn", ["A17XHX23H06INH", "S".repeat(17), "pd25"])).toBe(-11);
    // A failed smsn has already cleared the SMSN flag: csr is refused.
    expect(await code("cert csr", ["ed25519"])).toBe(-40);
    await client.command("cert smsn", ["A17XHX23H06INH", "S".repeat(16), "pd25"]);
    expect(await code("cert csr", ["ed448"])).toBe(-11);
    expect(await code("cert chain start", ["rsa"])).toBe(-11);
    expect(await code("cert chain write", ["A".repeat(33)])).toBe(-10);
  });

  test("the shell refuses wrong parameter counts and unknown commands", async () => {
    expect(await code("cert init extra")).toBe("rejected");
    expect(await code("cert smsn", ["a", "b"])).toBe("rejected");
    expect(await code("cert bogus")).toBe("rejected");
    expect(await code("certify")).toBe("rejected");
  });

  test("write before start is UNINITIALIZED; bad base64 drops the chain", async () => {
    await client.command("cert init");
    await client.command("cert smsn", ["A17XHX23H06INH", "SN1", "pd25"]);
    await client.command("cert chain start", ["ed25519"]);
    await client.command("cert chain commit").catch(() => {});
    expect(await code("cert chain write", ["QUJD"])).toBe(-25);
    await client.command("cert chain start", ["ed25519"]);
    expect(await code("cert chain write", ["QU*D"])).toBe(-11);
    expect(await code("cert chain write", ["QUJD"])).toBe(-25);
    expect(await code("cert chain commit")).toBe(-25);
  });

  test("commit needs the CSR, this device's SMSN and its key; store checks every signature", async () => {
    const ed = makeTestPki("ed25519");
    const p256 = makeTestPki("p256r1");
    const pkis: Record<Curve, ReturnType<typeof makeTestPki>> = { ed25519: ed, p256r1: p256 };
    await client.command("cert init");
    const smsn = fromBase64(await joined("cert smsn", ["A17XHX23H06INH", "SN42", "pd25"]));
    const chainFor = async (curve: Curve, publicKey: Uint8Array, serial = smsn) =>
      encodeChain(await issueDeviceChain(curve, "sidewalk", pkis[curve].caCerts, publicKey, serial, (m) => CURVES[curve].sign(m, pkis[curve].privateKeys[0]!)));
    // No CSR yet for this SMSN.
    expect(await writeChain("ed25519", await chainFor("ed25519", new Uint8Array(32).fill(9)))).toBe(-40);
    const csr = { ed25519: fromBase64(await joined("cert csr", ["ed25519"])), p256r1: fromBase64(await joined("cert csr", ["p256r1"])) };
    const key = (curve: Curve) => csr[curve].subarray(0, CURVES[curve].publicKeyLength);
    expect(await writeChain("ed25519", await chainFor("ed25519", key("ed25519"), new Uint8Array(32)))).toBe(-11);
    expect(await writeChain("ed25519", await chainFor("ed25519", key("p256r1").subarray(0, 32)))).toBe(-11);
    expect(await code("cert store")).toBe(-40);
    expect(await writeChain("ed25519", await chainFor("ed25519", key("ed25519")))).toBe(0);
    // A P-256 chain whose DAK signature is wrong is accepted on commit, refused by store.
    const badP256 = await chainFor("p256r1", key("p256r1"));
    badP256[32 + 64 + 5]! ^= 1;
    expect(await writeChain("p256r1", badP256)).toBe(0);
    await client.command("cert app_key start");
    for (const p of pieces(seed.app_server_public_key_base64)) await client.command("cert app_key write", [p]);
    await client.command("cert app_key commit");
    expect(await code("cert app_key commit")).toBe(-25);
    await client.command("cert app_key start");
    for (const p of pieces(seed.app_server_public_key_base64)) await client.command("cert app_key write", [p]);
    expect(await code("cert app_key commit")).toBe(-40);
    expect(await code("cert store")).toBe(-1);
    expect(await writeChain("p256r1", await chainFor("p256r1", key("p256r1")))).toBe(0);
    expect(await code("cert store")).toBe(0);
    const stored = sim.fixtures[0]!.devices[0]!.stored!;
    expect(stored.smsn).toBe(toHex(smsn));
    expect(stored.apid).toBe("pd25");
    expect(stored.appServerPublicKey).toBe(toHex(fromBase64(seed.app_server_public_key_base64)));
    expect(stored.devicePublicKeys.p256r1).toBe(toHex(key("p256r1")));
    expect(stored.caSerials.ed25519).toEqual(ed.caCerts.map((c) => toHex(c.serial)));
  });

  test("the seed's real chains: commit refuses them on a device with other keys", async () => {
    await client.command("cert init");
    await client.command("cert smsn", ["A17XHX23H06INH", "SN1234567", "pd25"]);
    await client.command("cert csr", ["ed25519"]);
    expect(await writeChain("ed25519", fromBase64(seed.chain.ed25519.base64))).toBe(-11);
  });
});

describe("shell argument splitting", () => {
  test("quotes group, backslashes escape", () => {
    expect(splitArguments('cert smsn "A B" x\\ y "q\\"t"')).toEqual(["cert", "smsn", "A B", "x y", 'q"t']);
    expect(splitArguments("  cert   init ")).toEqual(["cert", "init"]);
  });
});
