// The device profile JSON of `aws iotwireless get-device-profile`: the application server
// public key (Sidewalk.ApplicationServerPublicKey, hex) and the DAK metadata (APID, the most
// signatures the DAK may make).
import { readFileSync } from "node:fs";
import { FormatError, UsageError } from "../lib/errors.ts";
import { fromBase64, fromHex } from "../lib/bytes.ts";
import { APP_SERVER_KEY_LENGTH, appServerPublicKey } from "../sidewalk/app-server-key.ts";

export interface DakMetadata {
  certificateId?: string;
  apid?: string;
  deviceTypeId?: string;
  maxAllowedSignature?: number;
}

export interface DeviceProfile {
  applicationServerPublicKey: Uint8Array;
  dak: DakMetadata[];
}

export { APP_SERVER_KEY_LENGTH };

export function readDeviceProfile(path: string): DeviceProfile {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new FormatError(`${path}: cannot read the device profile JSON (${(e as Error).message})`, {
      advice: "save the output of `aws iotwireless get-device-profile --id <profile id>` to this file",
    });
  }
  const sidewalk = doc?.Sidewalk as Record<string, unknown> | undefined;
  const hex = sidewalk?.ApplicationServerPublicKey;
  if (typeof hex !== "string") throw new FormatError(`${path}: "Sidewalk.ApplicationServerPublicKey" is missing`, { advice: "is this a Sidewalk device profile?" });
  const key = appServerPublicKey(fromHex(hex, "Sidewalk.ApplicationServerPublicKey"), "Sidewalk.ApplicationServerPublicKey");
  const dak = Array.isArray(sidewalk?.DakCertificateMetadata) ? (sidewalk.DakCertificateMetadata as Record<string, unknown>[]) : [];
  return {
    applicationServerPublicKey: key,
    dak: dak.map((d) => ({
      ...(typeof d.CertificateId === "string" ? { certificateId: d.CertificateId } : {}),
      ...(typeof d.ApId === "string" ? { apid: d.ApId } : {}),
      ...(typeof d.DeviceTypeId === "string" ? { deviceTypeId: d.DeviceTypeId } : {}),
      ...(typeof d.MaxAllowedSignature === "number" ? { maxAllowedSignature: d.MaxAllowedSignature } : {}),
    })),
  };
}

/** `--app_server_public_key`: 64 hex characters or base64 of 32 bytes. */
export function parseAppServerKey(text: string): Uint8Array {
  const t = text.trim();
  const raw = /^[0-9a-fA-F]{64}$/.test(t) ? fromHex(t, "app server public key") : fromBase64(t, "app server public key");
  return appServerPublicKey(raw, "app server public key");
}

/** Where the application server public key comes from: a device profile, or the flag's text. */
export type AppKeySource = { from: "device-profile"; path: string } | { from: "flag"; text: string };

/**
 * The key, and the DAK's signature budget when a device profile says it. The profile is read
 * once (it may be a pipe, `<(aws iotwireless get-device-profile ...)`), and with an APID given
 * it must be the profile's DAK's: else the shift's SMSNs are wrong.
 */
export function readAppKey(source: AppKeySource, apid?: string): { key: Uint8Array; maxSignatures?: number } {
  if (source.from === "flag") return { key: parseAppServerKey(source.text) };
  const profile = readDeviceProfile(source.path);
  const apids = [...new Set(profile.dak.flatMap((d) => (d.apid ? [d.apid] : [])))];
  if (apid && apids.length && !apids.includes(apid)) {
    throw new UsageError(`--apid ${apid} does not match the device profile's DAK ApId ${apids.join(", ")} (${source.path})`, {
      advice: `use --apid ${apids[0]}, or the device profile of the product you mean`,
    });
  }
  const maxSignatures = profile.dak.find((d) => d.maxAllowedSignature !== undefined)?.maxAllowedSignature;
  return { key: profile.applicationServerPublicKey, ...(maxSignatures !== undefined ? { maxSignatures } : {}) };
}
