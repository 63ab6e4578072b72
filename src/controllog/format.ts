// Control log format 4-0-1: {"controlLogs":[{version, device:{serialNumber, productIdentifier:
// {advertisedProductId}, sidewalkData:{sidewalkED25519CertificateChain, sidewalkP256R1CertificateChain,
// label}}}]}. One entry per device file; a consolidated log has many. Some published examples
// capitalise the chain keys: both spellings are read, the lowercase one is written.
import { parseStrictJson } from "../lib/strict-json.ts";
import { FormatError } from "../lib/errors.ts";

export const CONTROL_LOG_VERSION = "4-0-1";
export const LABELS = ["production", "preproduction", "test"] as const;
export type Label = (typeof LABELS)[number];

export interface ControlLogEntry {
  version: string;
  /** SMSN, 64 lowercase hex characters. */
  serialNumber: string;
  apid: string;
  ed25519Chain: string;
  p256r1Chain: string;
  label: Label;
}

function field(obj: unknown, key: string, where: string): unknown {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw new FormatError(`control log: ${where} is not an object`);
  return (obj as Record<string, unknown>)[key];
}

function str(value: unknown, where: string): string {
  if (typeof value !== "string") throw new FormatError(`control log: ${where} is ${value === undefined ? "missing" : "not a string"}`);
  return value;
}

/** Checks one entry's shape (not its cryptography) and returns it in normalised form. */
export function readEntry(raw: unknown, index: number): ControlLogEntry {
  const at = `controlLogs[${index}]`;
  const version = str(field(raw, "version", at), `${at}.version`);
  if (version !== CONTROL_LOG_VERSION) {
    throw new FormatError(`control log: ${at}.version is ${JSON.stringify(version)}; only ${CONTROL_LOG_VERSION} is supported`);
  }
  const device = field(raw, "device", at);
  const serialNumber = str(field(device, "serialNumber", `${at}.device`), `${at}.device.serialNumber`);
  if (!/^[0-9a-fA-F]{64}$/.test(serialNumber)) {
    throw new FormatError(`control log: ${at}.device.serialNumber is not a 64-character hex SMSN`);
  }
  const product = field(device, "productIdentifier", `${at}.device`);
  const apid = str(field(product, "advertisedProductId", `${at}.device.productIdentifier`), `${at}.device.productIdentifier.advertisedProductId`);
  const data = field(device, "sidewalkData", `${at}.device`);
  const pick = (lower: string) => {
    const upper = lower[0]!.toUpperCase() + lower.slice(1);
    return str(field(data, lower, `${at}.device.sidewalkData`) ?? field(data, upper, `${at}.device.sidewalkData`), `${at}.device.sidewalkData.${lower}`);
  };
  const label = str(field(data, "label", `${at}.device.sidewalkData`), `${at}.device.sidewalkData.label`);
  if (!(LABELS as readonly string[]).includes(label)) {
    throw new FormatError(`control log: ${at}.device.sidewalkData.label is ${JSON.stringify(label)}; expected production, preproduction or test`);
  }
  return {
    version,
    serialNumber: serialNumber.toLowerCase(),
    apid,
    ed25519Chain: pick("sidewalkED25519CertificateChain"),
    p256r1Chain: pick("sidewalkP256R1CertificateChain"),
    label: label as Label,
  };
}

/** Parses a control log file's text (single device or consolidated). */
export function parseControlLog(text: string): ControlLogEntry[] {
  const doc = parseStrictJson(text, "control log");
  const logs = field(doc, "controlLogs", "the file");
  if (!Array.isArray(logs)) throw new FormatError(`control log: "controlLogs" is ${logs === undefined ? "missing" : "not an array"}`);
  return logs.map(readEntry);
}

/** The JSON object of one entry, in the lowercase spelling. */
export function entryObject(e: ControlLogEntry): object {
  return {
    version: e.version,
    device: {
      serialNumber: e.serialNumber,
      productIdentifier: { advertisedProductId: e.apid },
      sidewalkData: {
        sidewalkED25519CertificateChain: e.ed25519Chain,
        sidewalkP256R1CertificateChain: e.p256r1Chain,
        label: e.label,
      },
    },
  };
}

export function serialiseControlLog(entries: ControlLogEntry[]): string {
  return JSON.stringify({ controlLogs: entries.map(entryObject) });
}

/**
 * A control log file's text as the reference signing tool writes it (`json.dumps(indent=2)`
 * followed by a newline), so files from either tool look the same to a diff.
 */
export function formatControlLog(entries: ControlLogEntry[]): string {
  return JSON.stringify({ controlLogs: entries.map(entryObject) }, null, 2) + "\n";
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** `yyyyMMddHHmmss` in local time, as the reference's `time.strftime("%Y%m%d%H%M%S", localtime())`. */
export function controlLogStamp(now: Date): string {
  return `${pad(now.getFullYear(), 4)}${pad(now.getMonth() + 1)}${pad(now.getDate())}${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/**
 * `C_CONTROL_LOG_<yyyyMMddHHmmss>.txt`; a second log in the same second gets `_2`, `_3`, ...
 * before the extension (the reference sleeps a second instead).
 */
export function controlLogFileName(now: Date, copy = 1): string {
  return `C_CONTROL_LOG_${controlLogStamp(now)}${copy > 1 ? `_${copy}` : ""}.txt`;
}

/** Names of control log files, with or without a collision suffix. */
export const CONTROL_LOG_FILE_RE = /^C_CONTROL_LOG_\d{14}(?:_\d+)?\.txt$/;
