// Argument sets shared by several commands, defined once and spread into each command.
import type { ArgsDef } from "citty";
import { UsageError } from "../lib/errors.ts";
import { VALIDITY_DAYS } from "../x509/ca.ts";

/** Accepted by every command, anywhere on the line. */
export const globalArgs = {
  json: { type: "boolean", description: "Machine-readable JSON output on stdout" },
  verbose: { type: "boolean", description: "More detail (never key material or PINs)" },
  quiet: { type: "boolean", description: "Only warnings and errors" },
} as const satisfies ArgsDef;

/** Where the HSM is: a yubihsm-connector URL, or an https:// proxy with mutual TLS. */
export const connectorArgs = {
  connector: { type: "string", alias: "c", description: "yubihsm-connector URL (http://localhost:12345) or TLS proxy (https://host:8081)", default: "http://localhost:12345" },
  "ca-cert": { type: "string", description: "CA certificate (PEM) of the TLS proxy" },
  "client-cert": { type: "string", description: "Client certificate (PEM) for the TLS proxy" },
  "client-key": { type: "string", description: "Client key (PEM) for the TLS proxy" },
  "allow-insecure-connector": { type: "boolean", description: "Allow plain http:// to a connector on another machine" },
} as const satisfies ArgsDef;

/** How the HSM PIN is given (never echoed, logged or written anywhere). */
export const pinArgs = {
  "pin-env": { type: "string", description: "Environment variable holding the PIN (default SWTOOL_HSM_PIN)" },
  "pin-file": { type: "string", description: "File holding the PIN (first line)" },
  pin: { type: "string", description: "The PIN on the command line (compatibility; visible to other users: prefer --pin-env)" },
  "pin-slot": { type: "string", description: "Authentication key slot (default 5 for production, 6 for pre-production)" },
} as const satisfies ArgsDef;

/**
 * A whole-number flag, checked at the boundary: undefined when the flag is absent, else a
 * UsageError that names the flag and the allowed range (`--count "x" is not a whole number from 1 to 16`).
 */
export function wholeNumberArg(value: string | undefined, flag: string, range: { min?: number; max?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const { min = 0, max } = range;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < min || (max !== undefined && n > max)) {
    const allowed = max === undefined ? (min > 0 ? ` (at least ${min})` : "") : ` from ${min} to ${max}`;
    throw new UsageError(`--${flag} ${JSON.stringify(value)} is not a whole number${allowed}`);
  }
  return n;
}

/** A validity flag (--days, --ca-days, ...): whole days within what the X.509 engine issues. */
export function daysArg(value: string | undefined, flag: string): number | undefined {
  return wholeNumberArg(value, flag, VALIDITY_DAYS);
}

/** A decimal flag (fractions allowed), checked at the boundary like wholeNumberArg. */
export function decimalArg(value: string | undefined, flag: string, range: { min?: number; max?: number; above?: number } = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const { min, max, above } = range;
  if (!/^\s*\d+(\.\d+)?\s*$/.test(value) || (min !== undefined && n < min) || (max !== undefined && n > max) || (above !== undefined && n <= above)) {
    const allowed = [above !== undefined ? `above ${above}` : min !== undefined ? `from ${min}` : "", max !== undefined ? `${min !== undefined || above !== undefined ? "to" : "up to"} ${max}` : ""].filter(Boolean).join(" ");
    throw new UsageError(`--${flag} ${JSON.stringify(value)} is not a number${allowed ? ` ${allowed}` : ""}`);
  }
  return n;
}
