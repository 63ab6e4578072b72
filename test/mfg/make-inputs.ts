// Makes the inputs of the manufacturing-page vectors (test/vectors/mfg/inputs): signing outputs
// with device private keys from generated test PKIs, in every input form Nordic's provision.py
// reads. Run once with `bun test/mfg/make-inputs.ts`, then test/mfg/make-vectors.sh runs the
// real provision.py on them. The outputs are committed; this is how they were made.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeSmsn, CURVES, encodeChain, issueDeviceChain, makeTestPki, toBase64, toHex, fromBase64, type Curve } from "../../src/sidewalk/index.ts";
import { seed } from "../helpers/vectors.ts";

const OUT = join(import.meta.dir, "..", "vectors", "mfg", "inputs");
mkdirSync(OUT, { recursive: true });

async function device(apid: string, dsn: string, serialLengths?: number[]) {
  const smsn = computeSmsn({ deviceType: "A1TESTDEVTYPE1", dsn, apid, stage: "test" });
  const out: Record<string, { chain: string; priv: Uint8Array }> = {};
  for (const curve of ["ed25519", "p256r1"] as Curve[]) {
    const c = CURVES[curve];
    const pki = makeTestPki(curve, serialLengths ? { serialLengths } : {});
    const priv = c.randomPrivateKey();
    const chain = await issueDeviceChain(curve, "sidewalk", pki.caCerts, c.publicKeyFromPrivate(priv), smsn, (m) => c.sign(m, pki.privateKeys[0]!));
    out[curve] = { chain: toBase64(encodeChain(chain)), priv };
  }
  return { smsn: toHex(smsn), ed: out.ed25519!, p256: out.p256r1!, appKey: toHex(CURVES.ed25519.publicKeyFromPrivate(CURVES.ed25519.randomPrivateKey())) };
}

const write = (name: string, doc: unknown) => writeFileSync(join(OUT, name), JSON.stringify(doc, null, 2) + "\n");

// 1. swtool sign / sid_signing_tool PEM-mode output (the ACS console JSON shape); app key by flag.
const a = await device("ab12", "LINE1-0001");
write("testpki-signing-output.json", {
  eD25519: a.ed.chain,
  p256R1: a.p256.chain,
  label: "test",
  metadata: { smsn: a.smsn, apid: "ab12", devicePrivKeyEd25519: toHex(a.ed.priv), devicePrivKeyP256R1: toHex(a.p256.priv) },
});
writeFileSync(join(OUT, "testpki-app-key.hex"), a.appKey + "\n");

// 2. AWS combined certificate JSON: deviceTypeId instead of apid, app key inside, and the
// P-256 private key with the leading 00 byte the cloud sometimes adds.
const b = await device("cd34", "LINE1-0002");
write("testpki-certificate.json", {
  p256R1: b.p256.chain,
  eD25519: b.ed.chain,
  metadata: { devicePrivKeyP256R1: "00" + toHex(b.p256.priv), devicePrivKeyEd25519: toHex(b.ed.priv), deviceTypeId: "fe1234cd34", smsn: b.smsn },
  applicationServerPublicKey: b.appKey,
});

// 3. AWS pair: get-wireless-device and get-device-profile responses.
const c = await device("ef56", "LINE1-0003");
write("testpki-wireless-device.json", {
  Arn: "arn:aws:iotwireless:us-east-1:123456789012:WirelessDevice/00000000-0000-0000-0000-000000000003",
  Id: "00000000-0000-0000-0000-000000000003",
  Type: "Sidewalk",
  Sidewalk: {
    SidewalkManufacturingSn: c.smsn.toUpperCase(),
    DeviceCertificates: [
      { SigningAlg: "Ed25519", Value: c.ed.chain },
      { SigningAlg: "P256r1", Value: c.p256.chain },
    ],
    PrivateKeys: [
      { SigningAlg: "P256r1", Value: toHex(c.p256.priv) },
      { SigningAlg: "Ed25519", Value: toHex(c.ed.priv) },
    ],
    DeviceProfileId: "00000000-0000-0000-0000-0000000000aa",
    Status: "PROVISIONED",
  },
});
write("testpki-device-profile.json", {
  Arn: "arn:aws:iotwireless:us-east-1:123456789012:DeviceProfile/00000000-0000-0000-0000-0000000000aa",
  Id: "00000000-0000-0000-0000-0000000000aa",
  Sidewalk: {
    ApplicationServerPublicKey: c.appKey,
    DakCertificateMetadata: [{ CertificateId: "0000000a", DeviceTypeId: "fe1234ef56", FactorySupport: false, MaxAllowedSignature: 1000, ApId: "ef56" }],
    QualificationStatus: false,
  },
});

// 4. Serial expansion: a 5-byte DAK serial and an 8-byte PRODUCT serial (TLV pads to words).
const d = await device("gh78", "LINE1-0004", [5, 8, 4, 4, 4]);
write("serial-expansion-signing-output.json", {
  eD25519: d.ed.chain,
  p256R1: d.p256.chain,
  label: "test",
  metadata: { smsn: d.smsn, apid: "gh78", devicePrivKeyEd25519: toHex(d.ed.priv), devicePrivKeyP256R1: toHex(d.p256.priv) },
  applicationServerPublicKey: d.appKey,
});

// 5. The real Amazon chains of the seed vectors. Their device keys live only in the device
// that made the CSRs, so these private keys are stand-ins that do not match (decode says so).
write("seed-with-standin-keys.json", {
  ...seed.signing_tool_output_example,
  metadata: { ...seed.signing_tool_output_example.metadata, devicePrivKeyEd25519: "11".repeat(32), devicePrivKeyP256R1: "22".repeat(32) },
  applicationServerPublicKey: toHex(fromBase64(seed.app_server_public_key_base64)),
});
console.log(`inputs written to ${OUT}`);
