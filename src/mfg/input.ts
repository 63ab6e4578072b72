// What a manufacturing page is made from, read from the inputs provision.py accepts: a
// signing output with device private keys (swtool sign in PEM mode, sid_signing_tool, the
// console's certificate JSON), or the AWS pair (get-wireless-device + get-device-profile).
// Every missing or malformed field is refused by name; then the chains must verify, carry the
// SMSN, and certify the public keys of the private keys given, before any page is made.
import { FormatError, VerificationError } from "../lib/errors.ts";
import { bytes, equal, fromHex, toHex } from "../lib/bytes.ts";
import { assertChain, decodeChainBase64, type Chain } from "../sidewalk/chain.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";
import { SMSN_LENGTH, validateApid } from "../sidewalk/smsn.ts";
import { APP_SERVER_KEY_LENGTH, appServerPublicKey } from "../sidewalk/app-server-key.ts";

export { APP_SERVER_KEY_LENGTH };

export interface DeviceKeys {
  chain: Chain;
  privateKey: Uint8Array;
}

export interface MfgDevice {
  smsn: Uint8Array;
  apid: string;
  appServerPublicKey: Uint8Array;
  ed25519: DeviceKeys;
  p256r1: DeviceKeys;
  /** The chains end at Amazon's production root. */
  production: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function str(doc: Json, key: string, where: string, path = key): string {
  const v = doc[key];
  if (typeof v !== "string" || v === "") {
    throw new FormatError(`${where}: "${path}" is ${v === undefined || v === "" ? "missing" : `not a string (${typeof v})`}`);
  }
  return v;
}

function privateKey(hex: string, curve: Curve, field: string): Uint8Array {
  let key = fromHex(hex, field);
  // provision.py: the cloud sometimes prefixes a P-256 private key with a 00 byte.
  if (curve === "p256r1" && key.length === 33 && key[0] === 0) key = key.subarray(1);
  return bytes(key, CURVES[curve].privateKeyLength, field);
}

function chain(text: string, curve: Curve, field: string): Chain {
  const c = decodeChainBase64(text, curve, field);
  if (c.kind !== "sidewalk") {
    throw new FormatError(`"${field}" is a legacy ${c.certs.length}-certificate chain; a manufacturing page stores the 6-certificate chain`);
  }
  return c;
}

/** The one strict check (32 bytes, an Ed25519 point), as the signing flows use it. */
export const appServerKey = appServerPublicKey;

interface RawDevice {
  smsn: string;
  apid: string;
  appKey: Uint8Array;
  chains: Record<Curve, { chain: string; privateKey: string; chainField: string; keyField: string }>;
}

export interface InputOptions {
  /**
   * Accept private keys that do not match the chains' device keys. Only for pages from the
   * seed vectors, whose real device keys never left the device; the CLI never sets it.
   */
  allowKeyMismatch?: boolean;
}

/** Chains verify, carry the SMSN, and certify the public keys of the private keys. */
function checked(raw: RawDevice, where: string, smsnField: string, options: InputOptions): MfgDevice {
  const smsn = bytes(fromHex(raw.smsn, smsnField), SMSN_LENGTH, smsnField);
  const out = { smsn, apid: raw.apid, appServerPublicKey: raw.appKey } as MfgDevice;
  let production = true;
  for (const curve of ["ed25519", "p256r1"] as Curve[]) {
    const r = raw.chains[curve];
    const c = chain(r.chain, curve, r.chainField);
    const key = privateKey(r.privateKey, curve, r.keyField);
    try {
      production = assertChain(c, { smsn }).amazonRoot && production;
    } catch (e) {
      throw new VerificationError(`${where}: ${(e as Error).message}`, { cause: e, advice: "this signing output is damaged or was edited; sign the device again" });
    }
    const derived = CURVES[curve].publicKeyFromPrivate(key);
    if (!options.allowKeyMismatch && !equal(derived, c.certs[0]!.publicKey)) {
      throw new VerificationError(`${where}: "${r.keyField}" is not the private key of the device certificate in "${r.chainField}"`, {
        advice: "the private key and the chain come from different devices or runs; a page with them could never authenticate",
      });
    }
    out[curve] = { chain: c, privateKey: key };
  }
  out.production = production;
  return out;
}

/**
 * A signing output or the console's certificate JSON. APID from metadata.apid or the last four
 * characters of metadata.deviceTypeId; the application server key from the flag or the JSON
 * (both given: they must agree).
 */
export function deviceFromSigningOutput(doc: unknown, where: string, appKeyFlag?: Uint8Array, options: InputOptions = {}): MfgDevice {
  if (!isObject(doc)) throw new FormatError(`${where}: expected a JSON object (a signing output with "eD25519", "p256R1" and "metadata")`);
  if (appKeyFlag) appServerKey(appKeyFlag, "--app_srv_pub");
  const meta = doc.metadata;
  if (!isObject(meta)) throw new FormatError(`${where}: "metadata" is missing`);
  const apidText = typeof meta.apid === "string" && meta.apid ? meta.apid : typeof meta.deviceTypeId === "string" && meta.deviceTypeId ? meta.deviceTypeId.slice(-4) : undefined;
  if (apidText === undefined) throw new FormatError(`${where}: "metadata.apid" (or "metadata.deviceTypeId") is missing`, { advice: "sign with --apid, or add the APID to the metadata" });
  const jsonKey = typeof doc.applicationServerPublicKey === "string" ? doc.applicationServerPublicKey : typeof doc.ApplicationServerPublicKey === "string" ? doc.ApplicationServerPublicKey : undefined;
  const fromJson = jsonKey === undefined ? undefined : appServerKey(fromHex(jsonKey, "applicationServerPublicKey"), "applicationServerPublicKey");
  if (fromJson && appKeyFlag && !equal(fromJson, appKeyFlag)) {
    throw new FormatError(`${where}: --app_srv_pub ${toHex(appKeyFlag)} differs from "applicationServerPublicKey" ${toHex(fromJson)} in the file`, { advice: "drop --app_srv_pub, or correct the one that is wrong" });
  }
  const appKey = appKeyFlag ?? fromJson;
  if (!appKey) throw new FormatError(`${where}: no application server public key`, { advice: "add --app_srv_pub HEX|FILE (Sidewalk.ApplicationServerPublicKey of the device profile)" });
  const raw: RawDevice = {
    smsn: str(meta, "smsn", where, "metadata.smsn"),
    apid: apid(apidText, where, typeof meta.apid === "string" && meta.apid ? "metadata.apid" : "metadata.deviceTypeId"),
    appKey,
    chains: {
      ed25519: { chain: str(doc, "eD25519", where), privateKey: str(meta, "devicePrivKeyEd25519", where, "metadata.devicePrivKeyEd25519"), chainField: "eD25519", keyField: "metadata.devicePrivKeyEd25519" },
      p256r1: { chain: str(doc, "p256R1", where), privateKey: str(meta, "devicePrivKeyP256R1", where, "metadata.devicePrivKeyP256R1"), chainField: "p256R1", keyField: "metadata.devicePrivKeyP256R1" },
    },
  };
  return checked(raw, where, "metadata.smsn", options);
}

function apid(text: string, where: string, field: string): string {
  try {
    return validateApid(text);
  } catch (e) {
    throw new FormatError(`${where}: "${field}": ${(e as Error).message}`, { cause: e });
  }
}

function bySigningAlg(list: unknown, alg: string, where: string, path: string): string {
  if (!Array.isArray(list)) throw new FormatError(`${where}: "${path}" is missing`);
  const entry = list.find((e) => isObject(e) && typeof e.SigningAlg === "string" && e.SigningAlg.toLowerCase() === alg.toLowerCase());
  if (!isObject(entry) || typeof entry.Value !== "string") throw new FormatError(`${where}: "${path}" has no entry with SigningAlg "${alg}"`);
  return entry.Value;
}

/**
 * `aws iotwireless get-wireless-device` and `get-device-profile` responses. The APID is the last
 * four characters of a DAK's DeviceTypeId (DakCertificateMetadata, then DAKCertificate), else
 * Sidewalk.ApId, as provision.py looks for it.
 */
export function deviceFromAwsPair(wireless: unknown, profile: unknown, wirelessWhere: string, profileWhere: string, options: InputOptions = {}): MfgDevice {
  const ws = isObject(wireless) ? wireless.Sidewalk : undefined;
  if (!isObject(ws)) throw new FormatError(`${wirelessWhere}: "Sidewalk" is missing`, { advice: "save the output of `aws iotwireless get-wireless-device --identifier-type WirelessDeviceId --identifier <id>`" });
  const ps = isObject(profile) ? profile.Sidewalk : undefined;
  if (!isObject(ps)) throw new FormatError(`${profileWhere}: "Sidewalk" is missing`, { advice: "save the output of `aws iotwireless get-device-profile --id <profile id>`" });
  const daks = [ps.DakCertificateMetadata, ps.DAKCertificate].flatMap((v) => (Array.isArray(v) ? v : []));
  const dtid = daks.map((d) => (isObject(d) ? d.DeviceTypeId : undefined)).find((v): v is string => typeof v === "string" && v !== "");
  const apidText = dtid ? dtid.slice(-4) : typeof ps.ApId === "string" && ps.ApId ? ps.ApId : undefined;
  if (!apidText) throw new FormatError(`${profileWhere}: neither "Sidewalk.DakCertificateMetadata[].DeviceTypeId" nor "Sidewalk.ApId" is present`);
  const appKeyHex = str(ps, "ApplicationServerPublicKey", profileWhere, "Sidewalk.ApplicationServerPublicKey");
  const raw: RawDevice = {
    smsn: str(ws, "SidewalkManufacturingSn", wirelessWhere, "Sidewalk.SidewalkManufacturingSn"),
    apid: apid(apidText, profileWhere, dtid ? "DeviceTypeId" : "Sidewalk.ApId"),
    appKey: appServerKey(fromHex(appKeyHex, "Sidewalk.ApplicationServerPublicKey"), "Sidewalk.ApplicationServerPublicKey"),
    chains: {
      ed25519: {
        chain: bySigningAlg(ws.DeviceCertificates, "Ed25519", wirelessWhere, "Sidewalk.DeviceCertificates"),
        privateKey: bySigningAlg(ws.PrivateKeys, "Ed25519", wirelessWhere, "Sidewalk.PrivateKeys"),
        chainField: "Sidewalk.DeviceCertificates[Ed25519]",
        keyField: "Sidewalk.PrivateKeys[Ed25519]",
      },
      p256r1: {
        chain: bySigningAlg(ws.DeviceCertificates, "P256r1", wirelessWhere, "Sidewalk.DeviceCertificates"),
        privateKey: bySigningAlg(ws.PrivateKeys, "P256r1", wirelessWhere, "Sidewalk.PrivateKeys"),
        chainField: "Sidewalk.DeviceCertificates[P256r1]",
        keyField: "Sidewalk.PrivateKeys[P256r1]",
      },
    },
  };
  return checked(raw, wirelessWhere, "Sidewalk.SidewalkManufacturingSn", options);
}
