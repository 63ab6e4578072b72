// Bad inputs: every missing or malformed field refused by name, chains and keys that do not
// belong together, configs provision.py would choke on, and damaged pages.
import { describe, expect, test } from "bun:test";
import {
  buildPage,
  checkPage,
  decodePage,
  deviceFromAwsPair,
  deviceFromSigningOutput,
  parseLayout,
  TLV_LAYOUT,
} from "../../src/mfg/index.ts";
import { FormatError, VerificationError } from "../../src/lib/errors.ts";
import { fromBase64, toBase64, toHex } from "../../src/lib/bytes.ts";
import { makeTestPki } from "../../src/sidewalk/pki.ts";
import { APP_KEY, expectedBin, inputJson } from "./fixtures.ts";

const good = () => structuredClone(inputJson("testpki-signing-output.json"));
const build = (doc: unknown, app: Uint8Array | undefined = APP_KEY) => deviceFromSigningOutput(doc, "out.json", app);

describe("signing output", () => {
  test("missing fields are named", () => {
    const cases: [(d: Record<string, any>) => void, string][] = [
      [(d) => delete d.eD25519, 'out.json: "eD25519" is missing'],
      [(d) => delete d.p256R1, 'out.json: "p256R1" is missing'],
      [(d) => delete d.metadata, 'out.json: "metadata" is missing'],
      [(d) => delete d.metadata.smsn, 'out.json: "metadata.smsn" is missing'],
      [(d) => delete d.metadata.apid, 'out.json: "metadata.apid" (or "metadata.deviceTypeId") is missing'],
      [(d) => delete d.metadata.devicePrivKeyEd25519, 'out.json: "metadata.devicePrivKeyEd25519" is missing'],
      [(d) => delete d.metadata.devicePrivKeyP256R1, 'out.json: "metadata.devicePrivKeyP256R1" is missing'],
      [(d) => (d.metadata.smsn = 42), 'out.json: "metadata.smsn" is not a string (number)'],
    ];
    for (const [edit, message] of cases) {
      const d = good();
      edit(d);
      expect(() => build(d)).toThrow(message);
    }
    expect(() => deviceFromSigningOutput(good(), "out.json")).toThrow("out.json: no application server public key");
    expect(() => build([])).toThrow("out.json: expected a JSON object");
  });

  test("malformed values are named", () => {
    const cases: [(d: Record<string, any>) => void, string][] = [
      [(d) => (d.metadata.smsn = d.metadata.smsn.slice(2)), '"metadata.smsn" expected 32 bytes, got 31'],
      [(d) => (d.metadata.smsn = "zz" + d.metadata.smsn.slice(2)), '"metadata.smsn" is not valid hex'],
      [(d) => (d.metadata.apid = "ab1"), 'out.json: "metadata.apid": APID "ab1" has 3 characters; it must have exactly 4'],
      [(d) => (d.metadata.devicePrivKeyEd25519 += "00"), '"metadata.devicePrivKeyEd25519" expected 32 bytes, got 33'],
      [(d) => (d.metadata.devicePrivKeyP256R1 = "01" + d.metadata.devicePrivKeyP256R1), '"metadata.devicePrivKeyP256R1" expected 32 bytes, got 33'],
      [(d) => (d.eD25519 = d.eD25519.slice(1)), '"eD25519" is not valid base64'],
      [(d) => (d.p256R1 = toBase64(fromBase64(d.p256R1).subarray(0, 700))), "chain.decode(p256r1): truncated"],
    ];
    for (const [edit, message] of cases) {
      const d = good();
      edit(d);
      expect(() => build(d)).toThrow(message);
    }
  });

  test("the 00-prefixed P-256 key the cloud sometimes writes is accepted", () => {
    const d = good();
    d.metadata.devicePrivKeyP256R1 = "00" + d.metadata.devicePrivKeyP256R1;
    expect(toHex(buildPage(build(d)))).toBe(toHex(expectedBin("testpki-acs-tlv")));
  });

  test("chains and keys that do not belong together", () => {
    const swapped = good();
    swapped.metadata.devicePrivKeyEd25519 = inputJson("testpki-certificate.json").metadata.devicePrivKeyEd25519;
    expect(() => build(swapped)).toThrow(VerificationError);
    expect(() => build(swapped)).toThrow('out.json: "metadata.devicePrivKeyEd25519" is not the private key of the device certificate in "eD25519"');
    const otherSmsn = good();
    otherSmsn.metadata.smsn = inputJson("testpki-certificate.json").metadata.smsn;
    expect(() => build(otherSmsn)).toThrow("chain: device serial");
    const tampered = good();
    const chain = fromBase64(tampered.p256R1);
    chain[200] = chain[200]! ^ 1;
    tampered.p256R1 = toBase64(chain);
    expect(() => build(tampered)).toThrow(/out\.json: P-256 chain: signature of certificate \d \(\w+/);
  });

  test("a legacy 4-certificate chain is not a page's chain", () => {
    const d = good();
    const pki = makeTestPki("ed25519", { kind: "legacy" });
    const device = fromBase64(d.eD25519).subarray(0, 32 + 32 + 64);
    d.eD25519 = toBase64(new Uint8Array([...device, ...pki.caCerts.flatMap((c) => [...c.serial, ...c.publicKey, ...c.signature])]));
    expect(() => build(d)).toThrow('"eD25519" is a legacy 4-certificate chain; a manufacturing page stores the 6-certificate chain');
  });

  test("application server key: length, curve, and agreement between flag and file", () => {
    expect(() => build(good(), APP_KEY.subarray(1))).toThrow('"--app_srv_pub" expected 32 bytes, got 31');
    const cert = inputJson("testpki-certificate.json");
    expect(() => deviceFromSigningOutput(cert, "c.json", APP_KEY)).toThrow("c.json: --app_srv_pub");
    cert.applicationServerPublicKey = "ff".repeat(32);
    expect(() => deviceFromSigningOutput(cert, "c.json")).toThrow('"applicationServerPublicKey" is not an Ed25519 public key (not a point on the curve)');
  });
});

describe("AWS pair", () => {
  test("missing and malformed fields are named", () => {
    const wd = () => structuredClone(inputJson("testpki-wireless-device.json"));
    const dp = () => structuredClone(inputJson("testpki-device-profile.json"));
    expect(() => deviceFromAwsPair({}, dp(), "wd.json", "dp.json")).toThrow('wd.json: "Sidewalk" is missing');
    expect(() => deviceFromAwsPair(wd(), {}, "wd.json", "dp.json")).toThrow('dp.json: "Sidewalk" is missing');
    const noP256 = wd();
    noP256.Sidewalk.PrivateKeys = noP256.Sidewalk.PrivateKeys.filter((k: any) => k.SigningAlg !== "P256r1");
    expect(() => deviceFromAwsPair(noP256, dp(), "wd.json", "dp.json")).toThrow('wd.json: "Sidewalk.PrivateKeys" has no entry with SigningAlg "P256r1"');
    const noSmsn = wd();
    delete noSmsn.Sidewalk.SidewalkManufacturingSn;
    expect(() => deviceFromAwsPair(noSmsn, dp(), "wd.json", "dp.json")).toThrow('wd.json: "Sidewalk.SidewalkManufacturingSn" is missing');
    const noApid = dp();
    delete noApid.Sidewalk.DakCertificateMetadata;
    expect(() => deviceFromAwsPair(wd(), noApid, "wd.json", "dp.json")).toThrow('dp.json: neither "Sidewalk.DakCertificateMetadata[].DeviceTypeId" nor "Sidewalk.ApId" is present');
    noApid.Sidewalk.ApId = "ef56";
    expect(deviceFromAwsPair(wd(), noApid, "wd.json", "dp.json").apid).toBe("ef56");
    const noKey = dp();
    delete noKey.Sidewalk.ApplicationServerPublicKey;
    expect(() => deviceFromAwsPair(wd(), noKey, "wd.json", "dp.json")).toThrow('dp.json: "Sidewalk.ApplicationServerPublicKey" is missing');
  });
});

describe("config", () => {
  const legacyText = (edit: (s: string) => string) => edit(`tlv_enabled: false\noffset_size: 4\nmfg_page_size: 355\nmfg_offsets:\n  SID_PAL_MFG_STORE_MAGIC:\n    start: 0\n    end: 1\n  SID_PAL_MFG_STORE_VERSION:\n    start: 1\n    end: 2\n`);
  test("refusals name the key", () => {
    expect(() => parseLayout("offset_size: 4\nmfg_offset: {}\n", "c.yaml")).toThrow('c.yaml: unknown key "mfg_offset"');
    expect(() => parseLayout("offset_size: 0\nmfg_offsets: {}\n", "c.yaml")).toThrow('c.yaml: "offset_size" must be a positive whole number, got 0');
    expect(() => parseLayout("offset_size: 4\nmfg_offsets:\n  SID_PAL_MFG_STORE_SMNS: null\n", "c.yaml")).toThrow('c.yaml: mfg_offsets has unknown field "SID_PAL_MFG_STORE_SMNS"');
    expect(() => parseLayout("offset_size: 4\nmfg_offsets:\n  SID_PAL_MFG_STORE_MAGIC: {start: 1, end: 1}\n", "c.yaml")).toThrow("c.yaml: mfg_offsets.SID_PAL_MFG_STORE_MAGIC must be null or {start, end}");
    expect(() => parseLayout("offset_size: 4\nmfg_page_size: 10\nmfg_offsets:\n  SID_PAL_MFG_STORE_MAGIC: {start: 0, end: 1}\n  SID_PAL_MFG_STORE_VERSION: {start: 1, end: 2}\n", "c.yaml")).toThrow('c.yaml: "mfg_page_size" does not apply to a TLV page');
    expect(() => parseLayout("offset_size: 4\nmfg_offsets:\n  SID_PAL_MFG_STORE_MAGIC: {start: 0, end: 1}\n", "c.yaml")).toThrow("c.yaml: mfg_offsets.SID_PAL_MFG_STORE_VERSION needs start and end");
    expect(() => parseLayout("{", "c.json")).toThrow("c.json: not valid JSON");
    expect(() => parseLayout(legacyText((s) => s.replace("mfg_page_size: 355\n", "")), "c.yaml")).toThrow('c.yaml: "mfg_page_size" must be a positive whole number');
  });

  test("a fixed layout that lacks a place for a value, or is too small", () => {
    const device = deviceFromSigningOutput(good(), "out.json", APP_KEY);
    expect(() => buildPage(device, parseLayout(legacyText((s) => s), "c.yaml"))).toThrow("c.yaml: mfg_offsets has no SID_PAL_MFG_STORE_SMSN");
    const withNull = parseLayout(legacyText((s) => s + "  SID_PAL_MFG_STORE_SMSN: null\n"), "c.yaml");
    expect(() => buildPage(device, withNull)).toThrow("c.yaml: mfg_offsets.SID_PAL_MFG_STORE_SMSN is null");
    const small = parseLayout(legacyText((s) => s.replace("355", "10") + "  SID_PAL_MFG_STORE_SMSN: {start: 8, end: 16}\n"), "c.yaml");
    expect(() => buildPage(device, small)).toThrow("SID_PAL_MFG_STORE_SMSN (words 8-16) does not fit the page of 10 words");
    const narrow = parseLayout(legacyText((s) => s + "  SID_PAL_MFG_STORE_SMSN: {start: 8, end: 10}\n"), "c.yaml");
    expect(() => buildPage(device, narrow)).toThrow("SMSN is 32 bytes but SID_PAL_MFG_STORE_SMSN in c.yaml holds 8");
  });

  test("pre-TLV configs (mfg_page_version, no tlv_enabled) are the fixed layout", () => {
    const old = parseLayout(legacyText((s) => s.replace("tlv_enabled: false\n", "mfg_page_version: 6\n")), "old.yaml");
    expect(old.kind).toBe("fixed");
    expect(old.version).toBe(6);
    expect(TLV_LAYOUT.version).toBe(8);
  });
});

describe("decoding damaged pages", () => {
  const page = expectedBin("testpki-acs-tlv");
  test("not a page", () => {
    expect(() => decodePage(new Uint8Array(1420).fill(0xff))).toThrow("mfg.decode: the page is erased (every byte 0xFF): the device was never provisioned");
    expect(() => decodePage(new Uint8Array(16))).toThrow('mfg.decode: the page starts with 00000000, not the magic "SID0"');
    expect(() => decodePage(page.subarray(0, 6))).toThrow("mfg.decode: 6 bytes is too short");
    const v9 = page.slice();
    v9[7] = 9;
    expect(() => decodePage(v9)).toThrow("mfg.decode: page version 9 (0x00000009) is not supported");
    expect(() => decodePage(page.subarray(0, 100))).toThrow("mfg.decode: record DEVICE_PRIV_ED25519 at offset 80 declares 32 bytes, only 16 are left (truncated page)");
    // Each is an operator's FormatError (exit 1 with its message), never a crash.
    for (const bad of [new Uint8Array(1420).fill(0xff), new Uint8Array(16), page.subarray(0, 6), v9, page.subarray(0, 100)]) {
      expect(() => decodePage(bad)).toThrow(FormatError);
    }
  });

  test("records stop at erased flash; duplicates are reported", () => {
    const erasedTail = new Uint8Array([...page.subarray(0, 80), ...new Uint8Array(64).fill(0xff)]);
    const decoded = decodePage(erasedTail);
    expect(decoded.fields.map((f) => f.name)).toEqual(["MAGIC", "VERSION", "SMSN", "APP_PUB_ED25519"]);
    expect(checkPage(decoded).checks[0]!.detail).toStartWith("missing APID, DEVICE_PRIV_ED25519,");
    const dup = new Uint8Array([...page, ...page.subarray(8, 44)]);
    expect(decodePage(dup).problems).toEqual([`SMSN appears twice (offsets 8 and ${page.length})`]);
  });

  test("a flipped bit in any signed or key value fails a check", () => {
    const decoded = decodePage(page);
    for (const f of decoded.fields) {
      // Nothing signs the APID or the application server key: a flip there can stay plausible.
      if (["MAGIC", "VERSION", "APID", "APP_PUB_ED25519"].includes(f.name)) continue;
      const bad = page.slice();
      bad[f.offset] = bad[f.offset]! ^ 0x01;
      const report = checkPage(decodePage(bad));
      expect({ field: f.name, ok: report.ok }).toEqual({ field: f.name, ok: false });
    }
  });
});
