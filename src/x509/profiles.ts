// The certificate profiles of swtool's CAs, as OpenSSL's v3_ca and its TLS profiles write
// them, so `openssl verify -purpose ...` and nginx's `ssl_verify_client` accept the result:
// - ca: CA:TRUE critical (pathlen when given), keyCertSign and cRLSign critical;
// - server: CA:FALSE, digitalSignature (+ keyEncipherment for RSA), serverAuth, the DNS names
//   and IP addresses the line PCs dial;
// - client (a line PC) and device (a secure element): CA:FALSE, digitalSignature (+
//   keyEncipherment for an RSA client), clientAuth.
// Every profile carries subject and authority key identifiers.
import * as asn1js from "asn1js";
import { isIP } from "node:net";
import * as pkijs from "pkijs";
import { UsageError } from "../lib/errors.ts";
import { extension, KEY_USAGE, keyUsageBits, OID } from "./certificate.ts";

export type Profile = "ca" | "server" | "client" | "device";

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

export interface ProfileInputs {
  subjectKeyId: Uint8Array;
  authorityKeyId: Uint8Array;
  /** ca: how many CAs may follow below this one (0: it issues end entities only). */
  pathLength?: number;
  /** server: the names it answers to. */
  sans?: SubjectAltNames;
  /** The subject key is RSA: TLS may use it for key transport (keyEncipherment). */
  rsaKey?: boolean;
}

function ipBytes(ip: string): Uint8Array {
  if (isIP(ip) === 4) return new Uint8Array(ip.split(".").map(Number));
  // IPv6: expand "::" and read eight 16-bit groups.
  const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

/** Splits `--server-name` values into DNS names and IP addresses, checking each. */
export function parseServerNames(values: readonly string[]): SubjectAltNames {
  const sans: SubjectAltNames = { dns: [], ip: [] };
  for (const raw of values.flatMap((v) => v.split(","))) {
    const name = raw.trim();
    if (!name) continue;
    if (isIP(name)) {
      if (name.includes(".") && name.includes(":")) throw new UsageError(`server name ${JSON.stringify(name)}: IPv4-mapped IPv6 addresses are not supported`, { advice: "give the IPv4 address" });
      sans.ip.push(name);
    } else if (/^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(name)) {
      sans.dns.push(name.toLowerCase());
    } else {
      throw new UsageError(`server name ${JSON.stringify(name)} is neither a DNS name nor an IP address`, {
        advice: "give the host name or address the line PCs use in their --connector URL, e.g. --server-name signing.factory.lan,10.0.0.5",
      });
    }
  }
  if (sans.dns.length + sans.ip.length === 0) throw new UsageError("no server name given", { advice: "add --server-name NAME|IP (comma-separated for several)" });
  return sans;
}

function subjectAltName(sans: SubjectAltNames): pkijs.Extension {
  const names = [
    ...sans.dns.map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...sans.ip.map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(ip) }) })),
  ];
  return extension(OID.subjectAltName, false, new pkijs.GeneralNames({ names }).toSchema());
}

export function profileExtensions(profile: Profile, o: ProfileInputs): pkijs.Extension[] {
  const keyIds = [
    extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: o.subjectKeyId })),
    extension(OID.authorityKeyIdentifier, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: o.authorityKeyId }) }).toSchema()),
  ];
  if (profile === "ca") {
    return [
      extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true, ...(o.pathLength !== undefined ? { pathLenConstraint: o.pathLength } : {}) }).toSchema()),
      extension(OID.keyUsage, true, keyUsageBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      ...keyIds,
    ];
  }
  const usage = [KEY_USAGE.digitalSignature, ...(o.rsaKey && profile !== "device" ? [KEY_USAGE.keyEncipherment] : [])];
  return [
    extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false }).toSchema()),
    extension(OID.keyUsage, true, keyUsageBits(usage)),
    extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [profile === "server" ? OID.serverAuth : OID.clientAuth] }).toSchema()),
    ...(profile === "server" && o.sans ? [subjectAltName(o.sans)] : []),
    ...keyIds,
  ];
}
