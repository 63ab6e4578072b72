// Turns the shared connector and PIN flags into what the HSM module takes: the PIN from
// --pin-env (default SWTOOL_HSM_PIN), --pin-file, an interactive no-echo prompt when stdin is a
// terminal, or --pin (with a warning). The PIN is never printed, logged or put in an error.
import { readFileSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import type { TlsFiles } from "../hsm/transport.ts";
import { log } from "./output.ts";

export const DEFAULT_PIN_ENV = "SWTOOL_HSM_PIN";

export interface PinFlags {
  pin?: string;
  "pin-env"?: string;
  "pin-file"?: string;
  "pin-slot"?: string;
}

export interface ConnectorFlags {
  connector?: string;
  "ca-cert"?: string;
  "client-cert"?: string;
  "client-key"?: string;
  "allow-insecure-connector"?: boolean;
}

/** Reads a PIN from the terminal without echo. */
export async function promptPin(question = "HSM PIN: "): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  let pin = "";
  try {
    for await (const chunk of stdin as AsyncIterable<Buffer>) {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return pin;
        if (ch === "\u0003") {
          process.stderr.write("\n");
          process.exit(130);
        }
        if (ch === "\u007f" || ch === "\b") pin = pin.slice(0, -1);
        else if (ch >= " ") pin += ch;
      }
    }
    return pin;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
}

function readPinFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the PIN file ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { advice: "check the path given to --pin-file" });
  }
  const pin = text.split(/\r?\n/)[0] ?? "";
  if (!pin) throw new UsageError(`the PIN file ${JSON.stringify(path)} is empty`, { advice: "put the PIN on its first line" });
  return pin;
}

/**
 * The PIN, or undefined when none was given and `required` is false. Order: --pin-file, --pin,
 * the environment variable, then a prompt on a terminal.
 */
export async function resolvePin(flags: PinFlags, options: { required?: boolean } = {}): Promise<string | undefined> {
  const given = [flags["pin-file"] !== undefined, flags.pin !== undefined].filter(Boolean).length;
  if (given > 1) throw new UsageError("the PIN was given more than one way", { advice: "use one of --pin-env, --pin-file or --pin" });
  if (flags["pin-file"] !== undefined) return readPinFile(flags["pin-file"]);
  if (flags.pin !== undefined) {
    log.warn("--pin shows the PIN to other users (process list, shell history); prefer --pin-env or --pin-file");
    if (!flags.pin) throw new UsageError("--pin is empty");
    return flags.pin;
  }
  const variable = flags["pin-env"] ?? DEFAULT_PIN_ENV;
  const fromEnv = process.env[variable];
  if (fromEnv) return fromEnv;
  if (flags["pin-env"] !== undefined) {
    throw new UsageError(`the environment variable ${variable} named by --pin-env is not set or empty`, { advice: `export ${variable} with the HSM PIN` });
  }
  if (process.stdin.isTTY) return promptPin();
  if (options.required === false) return undefined;
  throw new UsageError("no HSM PIN given", { advice: `set ${DEFAULT_PIN_ENV}, or use --pin-env VAR or --pin-file FILE (or run in a terminal to be asked)` });
}

/** --pin-slot as a number (decimal or 0x hex), or undefined. */
export function pinSlotOf(flags: PinFlags): number | undefined {
  const raw = flags["pin-slot"];
  if (raw === undefined) return undefined;
  const value = /^0x[0-9a-f]+$/i.test(raw) ? parseInt(raw, 16) : /^\d+$/.test(raw) ? parseInt(raw, 10) : NaN;
  if (!(value >= 1 && value <= 0xfffe)) throw new UsageError(`--pin-slot ${JSON.stringify(raw)} is not an object id (1..65534)`, { advice: "the Sidewalk slots are 5 (production) and 6 (pre-production)" });
  return value;
}

/** The connector URL and TLS files from the shared connector flags. */
export function connectorOf(flags: ConnectorFlags): { connector: string; tls: TlsFiles; allowInsecureConnector: boolean } {
  const tls: TlsFiles = {};
  if (flags["ca-cert"]) tls.ca = flags["ca-cert"];
  if (flags["client-cert"]) tls.cert = flags["client-cert"];
  if (flags["client-key"]) tls.key = flags["client-key"];
  return { connector: flags.connector ?? "http://localhost:12345", tls, allowInsecureConnector: flags["allow-insecure-connector"] === true };
}
