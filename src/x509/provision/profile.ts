// Provisioning profiles: the request/answer framing of a device's provisioning firmware as a
// small JSON file, so a new firmware needs a profile, not code. A profile is a list of steps;
// each sends a request (a command character or line) and reads the answer:
//   handshake        send until the answer matches `expect` (`attempts` tries)
//   read-serial      the first capture group of `match` is the device's serial number
//   read-public-key  a PEM public key in the answer (`failure` stops early)
//   send-pem         send `item` as PEM text, one line per `lineDelayMs`, after `settleMs`
//   read-back        the answer must hold `items` exactly as they were sent; up to
//                    `attempts` tries, sending `resync` and the items again in between
//   finish           wait for `success`; `failure` anywhere in the answer fails
// Items: signer-certificate (the issuing CA), device-certificate, root-public-key,
// root-certificate. Built-in profiles live in src/x509/profiles/.
import { existsSync, readFileSync } from "node:fs";
import { FormatError, UsageError } from "../../lib/errors.ts";
import atecc608Esp32 from "../profiles/atecc608-esp32.json" with { type: "json" };

export type Item = "signer-certificate" | "device-certificate" | "root-public-key" | "root-certificate";
export const ITEMS: readonly Item[] = ["signer-certificate", "device-certificate", "root-public-key", "root-certificate"];

export type Step =
  | { do: "handshake"; send: string; expect: RegExp; attempts: number; timeoutMs: number }
  | { do: "read-serial"; send: string; match: RegExp; timeoutMs: number }
  | { do: "read-public-key"; send: string; failure?: RegExp; timeoutMs: number }
  | { do: "send-pem"; send: string; item: Item }
  | { do: "read-back"; send: string; items: Item[]; attempts: number; timeoutMs: number }
  | { do: "finish"; send: string; success: RegExp; failure?: RegExp; timeoutMs: number };

export interface Profile {
  name: string;
  description: string;
  lineEnding: string;
  /** Wait after a command before sending data (the firmware flushes its input after each). */
  settleMs: number;
  /** Wait between data lines (one line per UART event). */
  lineDelayMs: number;
  /** Device subject; `{serial}` is the serial number the device reported. */
  subject: string;
  /** Sent before a retry to end any object the device is still receiving. */
  resync: string[];
  steps: Step[];
}

export const BUILT_IN_PROFILES: Record<string, unknown> = { "atecc608-esp32": atecc608Esp32 };
export const DEFAULT_PROFILE = "atecc608-esp32";

type Json = Record<string, unknown>;

class ProfileReader {
  constructor(readonly where: string) {}

  fail(message: string): never {
    throw new FormatError(`profile ${this.where}: ${message}`, { advice: "see the step list at the top of src/x509/provision/profile.ts, or start from the built-in atecc608-esp32 profile" });
  }

  string(obj: Json, key: string, fallback?: string): string {
    const v = obj[key] ?? fallback;
    if (typeof v !== "string" || v === "") this.fail(`"${key}" must be a non-empty string`);
    return v;
  }

  number(obj: Json, key: string, fallback: number, max: number): number {
    const v = obj[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) this.fail(`"${key}" must be a whole number from 0 to ${max}`);
    return v;
  }

  regex(obj: Json, key: string): RegExp {
    const source = this.string(obj, key);
    try {
      return new RegExp(source);
    } catch (e) {
      this.fail(`"${key}" is not a valid regular expression: ${(e as Error).message}`);
    }
  }

  optionalRegex(obj: Json, key: string): RegExp | undefined {
    return obj[key] === undefined ? undefined : this.regex(obj, key);
  }

  item(value: unknown, key: string): Item {
    if (!ITEMS.includes(value as Item)) this.fail(`"${key}" must be one of ${ITEMS.join(", ")} (got ${JSON.stringify(value)})`);
    return value as Item;
  }
}

function readStep(raw: unknown, index: number, r: ProfileReader): Step {
  if (typeof raw !== "object" || raw === null) r.fail(`step ${index + 1} is not an object`);
  const obj = raw as Json;
  const sub: ProfileReader = new ProfileReader(`${r.where}, step ${index + 1}`);
  const send = sub.string(obj, "send");
  const timeoutMs = sub.number(obj, "timeoutMs", 5000, 600_000);
  switch (obj.do) {
    case "handshake":
      return { do: "handshake", send, expect: sub.regex(obj, "expect"), attempts: Math.max(1, sub.number(obj, "attempts", 3, 100)), timeoutMs };
    case "read-serial": {
      const match = sub.regex(obj, "match");
      if (new RegExp(`${match.source}|`).exec("")!.length < 2) sub.fail('"match" needs a capture group around the serial number');
      return { do: "read-serial", send, match, timeoutMs };
    }
    case "read-public-key":
      return { do: "read-public-key", send, failure: sub.optionalRegex(obj, "failure"), timeoutMs };
    case "send-pem":
      return { do: "send-pem", send, item: sub.item(obj.item, "item") };
    case "read-back": {
      if (!Array.isArray(obj.items) || obj.items.length === 0) sub.fail('"items" must be a non-empty list');
      return { do: "read-back", send, items: obj.items.map((i) => sub.item(i, "items")), attempts: Math.max(1, sub.number(obj, "attempts", 1, 10)), timeoutMs };
    }
    case "finish":
      return { do: "finish", send, success: sub.regex(obj, "success"), failure: sub.optionalRegex(obj, "failure"), timeoutMs };
    default:
      return sub.fail(`"do" must be handshake, read-serial, read-public-key, send-pem, read-back or finish (got ${JSON.stringify(obj.do)})`);
  }
}

function readResync(raw: unknown, r: ProfileReader): string[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw) || raw.some((t) => typeof t !== "string" || t === "")) r.fail('"resync" must be a list of non-empty strings');
  return raw as string[];
}

/** Checks a profile object and returns it typed. */
export function parseProfile(raw: unknown, where: string): Profile {
  const r: ProfileReader = new ProfileReader(where);
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) r.fail("must be a JSON object");
  const obj = raw as Json;
  if (!Array.isArray(obj.steps) || obj.steps.length === 0) r.fail('"steps" must be a non-empty list');
  const steps = obj.steps.map((s, i) => readStep(s, i, r));
  const order = steps.map((s) => s.do);
  const needsKey = steps.some((s) => (s.do === "send-pem" && s.item === "device-certificate") || (s.do === "read-back" && s.items.includes("device-certificate")));
  const firstDevice = steps.findIndex((s) => (s.do === "send-pem" || s.do === "read-back") && (s.do === "send-pem" ? s.item === "device-certificate" : s.items.includes("device-certificate")));
  if (needsKey && !order.slice(0, firstDevice).includes("read-public-key")) r.fail("the device certificate is used before a read-public-key step");
  for (const s of steps) {
    if (s.do !== "read-back") continue;
    for (const item of s.items) {
      if (!steps.some((t) => t.do === "send-pem" && t.item === item)) r.fail(`read-back of ${item}, which no send-pem step sends`);
    }
  }
  const subject = r.string(obj, "subject", "CN={serial}");
  if (subject.includes("{serial}") && !order.includes("read-serial")) r.fail('"subject" uses {serial} but no read-serial step reads it');
  return {
    name: r.string(obj, "name"),
    description: typeof obj.description === "string" ? obj.description : "",
    lineEnding: r.string(obj, "lineEnding", "\n"),
    settleMs: r.number(obj, "settleMs", 300, 60_000),
    lineDelayMs: r.number(obj, "lineDelayMs", 100, 60_000),
    subject,
    resync: readResync(obj.resync, r),
    steps,
  };
}

/** A built-in profile by name, or a profile file. */
export function loadProfile(spec: string = DEFAULT_PROFILE): Profile {
  const builtIn = BUILT_IN_PROFILES[spec];
  if (builtIn) return parseProfile(builtIn, spec);
  if (!existsSync(spec)) {
    throw new UsageError(`profile ${JSON.stringify(spec)} is neither built in nor a file`, { advice: `built-in profiles: ${Object.keys(BUILT_IN_PROFILES).join(", ")}` });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(spec, "utf8"));
  } catch (e) {
    throw new FormatError(`profile ${spec}: not valid JSON (${(e as Error).message})`);
  }
  return parseProfile(raw, spec);
}
