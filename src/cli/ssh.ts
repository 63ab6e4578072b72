// The SSH flags shared by `swtool upload` and `swtool feedback`, and turning them into an
// SshTarget: the private key (RSA PEM from the Sidewalk console; the passphrase from
// --passphrase-env or a no-echo prompt), and the host key policy (--host-key pins a
// fingerprint, otherwise --known-hosts, default ~/.ssh/known_hosts; --accept-new-host-key
// records an unknown host's key on first use).
import type { ArgsDef } from "citty";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { utils } from "ssh2";
import { UsageError } from "../lib/errors.ts";
import type { SshTarget } from "../upload/connection.ts";
import { parseFingerprint, type HostKeyPolicy } from "../upload/host-key.ts";
import type { RetryOptions } from "../upload/retry.ts";
import { promptPin } from "./pin.ts";
import { log } from "./output.ts";
import { wholeNumberArg } from "./args.ts";

export const sshArgs = {
  host: { type: "string", description: "SFTP endpoint host name", required: true },
  port: { type: "string", description: "SFTP port", default: "22" },
  user: { type: "string", description: "SFTP user name", required: true },
  key: { type: "string", description: "Private key file (RSA PEM from the Sidewalk console)", required: true },
  "passphrase-env": { type: "string", description: "Environment variable holding the key's passphrase (else asked on a terminal)" },
  "known-hosts": { type: "string", description: "known_hosts file to check the server's key against (default ~/.ssh/known_hosts)" },
  "host-key": { type: "string", description: "Expected host key fingerprint, SHA256:... (instead of known_hosts)" },
  "accept-new-host-key": { type: "boolean", description: "Trust an unknown host's key on first use and add it to known_hosts (a changed key is still refused)" },
  retries: { type: "string", description: "Reconnect attempts after a dropped connection", default: "3" },
  "retry-delay": { type: "string", description: "Seconds before the first reconnect (doubled each time)", default: "2" },
  "remote-dir": { type: "string", description: "Remote directory", default: "." },
} as const satisfies ArgsDef;

export interface SshFlags {
  host: string;
  port?: string;
  user: string;
  key: string;
  "passphrase-env"?: string;
  "known-hosts"?: string;
  "host-key"?: string;
  "accept-new-host-key"?: boolean;
  retries?: string;
  "retry-delay"?: string;
}

async function passphraseFor(keyText: string, flags: SshFlags): Promise<string | undefined> {
  const plain = utils.parseKey(keyText);
  if (!(plain instanceof Error)) return undefined;
  if (!/passphrase|encrypted/i.test(plain.message)) {
    throw new UsageError(`${flags.key} is not a private key ssh can use: ${plain.message}`, { advice: "give the RSA private key (PEM) registered for the endpoint" });
  }
  const variable = flags["passphrase-env"];
  if (variable !== undefined) {
    const value = process.env[variable];
    if (!value) throw new UsageError(`the key ${flags.key} is encrypted and the variable ${variable} named by --passphrase-env is not set`);
    return checked(keyText, value, flags.key);
  }
  if (!process.stdin.isTTY) {
    throw new UsageError(`the key ${flags.key} is encrypted`, { advice: "put its passphrase in an environment variable and name it with --passphrase-env" });
  }
  return checked(keyText, await promptPin(`Passphrase for ${flags.key}: `), flags.key);
}

/** Fails now, before any connection, when the passphrase does not open the key. */
function checked(keyText: string, passphrase: string, path: string): string {
  const parsed = utils.parseKey(keyText, passphrase);
  if (parsed instanceof Error) throw new UsageError(`the passphrase does not decrypt ${path} (${parsed.message})`, { advice: "check the passphrase" });
  return passphrase;
}

export async function sshTarget(flags: SshFlags): Promise<SshTarget> {
  let privateKey: string;
  try {
    privateKey = readFileSync(flags.key, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the key file ${flags.key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (flags["host-key"] !== undefined && flags["known-hosts"] !== undefined) {
    throw new UsageError("--host-key and --known-hosts both given", { advice: "pin the fingerprint with --host-key, or check against a known_hosts file, not both" });
  }
  if (flags["host-key"] !== undefined && flags["accept-new-host-key"]) {
    throw new UsageError("--accept-new-host-key has no meaning with --host-key", { advice: "drop one of them" });
  }
  const hostKey: HostKeyPolicy =
    flags["host-key"] !== undefined
      ? { kind: "fingerprint", fingerprints: flags["host-key"].split(",").map(parseFingerprint) }
      : { kind: "known-hosts", file: flags["known-hosts"] ?? join(homedir(), ".ssh", "known_hosts"), acceptNew: flags["accept-new-host-key"] ?? false };
  const target: SshTarget = {
    host: flags.host,
    port: wholeNumberArg(flags.port, "port", { min: 1, max: 65535 }) ?? 22,
    user: flags.user,
    privateKey,
    hostKey,
  };
  const passphrase = await passphraseFor(privateKey, flags);
  if (passphrase !== undefined) target.passphrase = passphrase;
  return target;
}

function retryDelay(text: string | undefined): number {
  const seconds = text === undefined ? 2 : Number(text);
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 600) throw new UsageError(`--retry-delay ${text} is not a number of seconds from 0 to 600`);
  return Math.round(seconds * 1000);
}

export function retryOptions(flags: SshFlags): RetryOptions {
  return {
    retries: wholeNumberArg(flags.retries, "retries", { max: 100 }) ?? 3,
    retryDelayMs: retryDelay(flags["retry-delay"]),
    onRetry: (attempt, error, delay) => log.warn(`attempt ${attempt} failed (${error.message}); retrying in ${(delay / 1000).toFixed(1)} s`),
  };
}
