// Several HSMs for `swtool sign`: `--connector URL` repeated (the TLS and PIN flags then apply
// to each), or `--hsm-config FILE`, a JSON file naming each HSM's connector URL, TLS files and
// PIN source. A PIN is never written in the file: `pinFile` (a file holding it) or `pinEnv`
// (an environment variable); without either, the command line's PIN options are used.
// Relative paths are relative to the config file.
//   {
//     "sessions": 4,
//     "hsms": [
//       { "connector": "https://signing-server:8081", "caCert": "ca.pem", "clientCert": "client.pem",
//         "clientKey": "client.key", "pinFile": "/etc/swtool/hsm1.pin" },
//       { "connector": "https://signing-server:8082", "caCert": "ca.pem", "clientCert": "client.pem",
//         "clientKey": "client.key", "pinEnv": "HSM2_PIN", "pinSlot": 5 }
//     ]
//   }
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { UsageError } from "../lib/errors.ts";
import type { HsmEndpoint } from "../signer/hsm/fleet.ts";
import { resolvePin, type PinFlags } from "./pin.ts";

export interface HsmConfig {
  sessions?: number;
  endpoints: HsmEndpoint[];
}

const KEYS = new Set(["connector", "name", "caCert", "clientCert", "clientKey", "pinFile", "pinEnv", "pinSlot", "allowInsecureConnector"]);

/** Every `--connector URL` / `-c URL` / `--connector=URL` on the command line, in order. */
export function connectorUrls(rawArgs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const t = rawArgs[i]!;
    if (t === "--") break;
    if ((t === "--connector" || t === "-c") && i + 1 < rawArgs.length) out.push(rawArgs[++i]!);
    else if (t.startsWith("--connector=")) out.push(t.slice("--connector=".length));
  }
  return out;
}

export async function readHsmConfig(path: string, fallbackPin: PinFlags): Promise<HsmConfig> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new UsageError(`cannot read the HSM config ${path}: ${(e as Error).message}`, { advice: 'give a JSON file like {"hsms": [{"connector": "https://server:8081", "pinFile": "..."}]}' });
  }
  const where = (i: number, key: string) => `${path}: hsms[${i}].${key}`;
  const config = raw as { sessions?: unknown; hsms?: unknown };
  if (typeof config !== "object" || config === null || !Array.isArray(config.hsms) || config.hsms.length === 0) {
    throw new UsageError(`${path}: "hsms" must list at least one HSM`, { advice: 'e.g. {"hsms": [{"connector": "https://server:8081", "pinFile": "hsm1.pin"}]}' });
  }
  for (const key of Object.keys(config)) if (key !== "hsms" && key !== "sessions") throw new UsageError(`${path}: unknown key "${key}"`, { advice: 'the file has "hsms" and optionally "sessions"' });
  const sessions = config.sessions;
  if (sessions !== undefined && !(Number.isInteger(sessions) && (sessions as number) >= 1 && (sessions as number) <= 16)) throw new UsageError(`${path}: "sessions" must be a whole number from 1 to 16`);
  const file = (v: unknown, i: number, key: string): string => {
    if (typeof v !== "string" || v === "") throw new UsageError(`${where(i, key)} must be a file path`);
    return isAbsolute(v) ? v : resolve(dirname(path), v);
  };
  const endpoints: HsmEndpoint[] = [];
  for (const [i, h] of (config.hsms as unknown[]).entries()) {
    if (typeof h !== "object" || h === null) throw new UsageError(`${path}: hsms[${i}] must be an object`);
    const e = h as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (key === "pin") throw new UsageError(`${where(i, "pin")}: a PIN must not be written in the config file`, { advice: 'use "pinFile" (a private file holding it) or "pinEnv" (an environment variable)' });
      if (!KEYS.has(key)) throw new UsageError(`${where(i, key)} is not known`, { advice: `use ${[...KEYS].join(", ")}` });
    }
    if (typeof e.connector !== "string") throw new UsageError(`${where(i, "connector")} is missing`, { advice: "the HSM's yubihsm-connector or TLS proxy URL" });
    if (e.pinFile !== undefined && e.pinEnv !== undefined) throw new UsageError(`${path}: hsms[${i}] gives both pinFile and pinEnv`);
    const pinFlags: PinFlags = e.pinFile !== undefined ? { "pin-file": file(e.pinFile, i, "pinFile") } : e.pinEnv !== undefined ? { "pin-env": String(e.pinEnv) } : fallbackPin;
    const pin = (await resolvePin(pinFlags, { required: true }))!;
    const tls: NonNullable<HsmEndpoint["tls"]> = {};
    if (e.caCert !== undefined) tls.ca = file(e.caCert, i, "caCert");
    if (e.clientCert !== undefined) tls.cert = file(e.clientCert, i, "clientCert");
    if (e.clientKey !== undefined) tls.key = file(e.clientKey, i, "clientKey");
    const slot = e.pinSlot;
    if (slot !== undefined && !(Number.isInteger(slot) && (slot as number) >= 1 && (slot as number) <= 0xfffe)) throw new UsageError(`${where(i, "pinSlot")} must be an object id (1..65534)`);
    endpoints.push({
      connector: e.connector,
      pin,
      tls,
      ...(typeof e.name === "string" ? { name: e.name } : {}),
      ...(slot !== undefined ? { pinSlot: slot as number } : {}),
      ...(e.allowInsecureConnector === true ? { allowInsecureConnector: true } : {}),
    });
  }
  return { ...(sessions !== undefined ? { sessions: sessions as number } : {}), endpoints };
}
