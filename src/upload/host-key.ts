// Checking the SFTP server's host key as OpenSSH does (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
// against a pinned SHA-256 fingerprint (`--host-key SHA256:...`, as `ssh-keygen -l` prints it)
// or a known_hosts file (plain, wildcard and hashed `|1|salt|hash` host names, `[host]:port`
// for ports other than 22, @revoked). An unknown host is refused unless trust on first use was
// asked for; a changed key is always refused.
import { createHash, createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { SwtoolError, UsageError } from "../lib/errors.ts";

export class HostKeyError extends SwtoolError {}

/** "SHA256:<base64 without padding>" of a host key blob, as OpenSSH prints it. */
export function fingerprint(blob: Uint8Array): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

/** The key type named at the start of an SSH public key blob (e.g. "ssh-ed25519"). */
export function keyType(blob: Uint8Array): string {
  const b = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < 4) return "unknown";
  const n = b.readUInt32BE(0);
  return n > 0 && n < 64 && b.length >= 4 + n ? b.toString("latin1", 4, 4 + n) : "unknown";
}

const FINGERPRINT_RE = /^SHA256:[A-Za-z0-9+/]{43}$/;

export function parseFingerprint(text: string): string {
  const t = text.trim().replace(/=+$/, "");
  if (!FINGERPRINT_RE.test(t)) {
    throw new UsageError(`--host-key ${JSON.stringify(text)} is not a SHA-256 host key fingerprint`, {
      advice: "give it as `ssh-keygen -l -E sha256` prints it, e.g. SHA256:ro7zaEX4byyKFyvaMS/faHeIPMryNh/iXAidE9nZfzM",
    });
  }
  return t;
}

export interface KnownHost {
  marker?: "@revoked" | "@cert-authority";
  patterns: string;
  type: string;
  blob: Buffer;
  line: number;
}

/** The name known_hosts uses for a host: "host", or "[host]:port" when the port is not 22. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp("^" + pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i");
  return re.test(name);
}

function hashedMatch(entry: string, name: string): boolean {
  const [, magic, salt, hash] = entry.split("|");
  if (magic !== "1" || !salt || !hash) return false;
  return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
}

/** OpenSSH's host pattern list: comma-separated, `!` negates, wildcards, hashed names. */
export function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith("|")) return hashedMatch(patterns, name);
  let matched = false;
  for (const p of patterns.split(",")) {
    if (p.startsWith("!")) {
      if (globMatch(p.slice(1), name)) return false;
    } else if (globMatch(p, name)) matched = true;
  }
  return matched;
}

export function parseKnownHosts(text: string): KnownHost[] {
  const out: KnownHost[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith("#")) return;
    const marker = fields[0].startsWith("@") ? (fields.shift() as KnownHost["marker"]) : undefined;
    const [patterns, type, key] = fields;
    if (!patterns || !type || !key) return;
    const entry: KnownHost = { patterns, type, blob: Buffer.from(key, "base64"), line: i + 1 };
    if (marker) entry.marker = marker;
    out.push(entry);
  });
  return out;
}

export type HostKeyPolicy =
  | { kind: "fingerprint"; fingerprints: string[] }
  | { kind: "known-hosts"; file: string; acceptNew: boolean };

/** What the policy says about a presented key; throws HostKeyError to refuse. */
export interface HostKeyChecker {
  /** Key types to offer first (those known for the host), OpenSSH-style. */
  preferredTypes(): string[];
  check(blob: Uint8Array): void;
}

function algorithmsFor(type: string): string[] {
  return type === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [type];
}

export function hostKeyChecker(policy: HostKeyPolicy, host: string, port: number): HostKeyChecker {
  const name = hostName(host, port);
  if (policy.kind === "fingerprint") {
    return {
      preferredTypes: () => [],
      check(blob) {
        const seen = fingerprint(blob);
        if (!policy.fingerprints.includes(seen)) {
          throw new HostKeyError(`${name} presented ${keyType(blob)} host key ${seen}, not the expected ${policy.fingerprints.join(" or ")}`, {
            advice: "the server is not the one you expect, or its key changed: confirm the fingerprint with the endpoint's owner before changing --host-key",
          });
        }
      },
    };
  }
  const entries = existsSync(policy.file) ? parseKnownHosts(readFileSync(policy.file, "utf8")).filter((e) => e.marker !== "@cert-authority" && hostMatches(e.patterns, name)) : [];
  return {
    preferredTypes: () => [...new Set(entries.filter((e) => !e.marker).flatMap((e) => algorithmsFor(e.type)))],
    check(blob) {
      const seen = fingerprint(blob);
      const same = entries.filter((e) => e.blob.equals(Buffer.from(blob)));
      if (same.some((e) => e.marker === "@revoked")) {
        throw new HostKeyError(`${name} presented a host key marked @revoked in ${policy.file} (${seen})`);
      }
      if (same.length) return;
      const known = entries.filter((e) => !e.marker);
      if (known.length) {
        throw new HostKeyError(
          `${name} presented ${keyType(blob)} host key ${seen}, which is not the key in ${policy.file} (line ${known.map((e) => e.line).join(", ")}): the host key has CHANGED`,
          { advice: "someone may be intercepting the connection, or the server was reinstalled; confirm the new key with the endpoint's owner, then remove the old line" },
        );
      }
      if (!policy.acceptNew) {
        throw new HostKeyError(`${name} is not in ${policy.file}; its ${keyType(blob)} host key is ${seen}`, {
          advice: "check that fingerprint with the endpoint's owner, then pass --host-key " + seen + " or --accept-new-host-key to record it",
        });
      }
      mkdirSync(dirname(policy.file), { recursive: true, mode: 0o700 });
      const old = existsSync(policy.file) ? readFileSync(policy.file, "utf8") : "";
      appendFileSync(policy.file, `${old && !old.endsWith("\n") ? "\n" : ""}${name} ${keyType(blob)} ${Buffer.from(blob).toString("base64")}\n`, { mode: 0o600 });
    },
  };
}
