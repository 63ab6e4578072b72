// X.509 certificates of the signing-server PKI (RFC 5280 profile), built with pkijs: the local
// signing authority (CA), the nginx server certificate (serverAuth, subject alternative names)
// and one client certificate per line PC (clientAuth). Each profile carries the extensions
// OpenSSL's verifier and nginx's `ssl_verify_client` check.
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { isIP } from "node:net";
import { FormatError, UsageError } from "../lib/errors.ts";
import { KEY_ALGORITHMS, pkijsEngine, type PrivateKey } from "./keys.ts";
import { fromPem, toPem } from "./pem.ts";

export type CertificateProfile = "ca" | "server" | "client";

export interface SubjectName {
  commonName: string;
  organization?: string;
}

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
}

export interface IssueRequest {
  profile: CertificateProfile;
  subject: SubjectName;
  publicKey: CryptoKey;
  /** Signing key and, unless self-signed, the issuer's certificate. */
  issuerKey: PrivateKey;
  issuer?: pkijs.Certificate;
  days: number;
  sans?: SubjectAltNames;
  /** For tests and reproducible outputs; defaults to now. */
  now?: Date;
}

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

// KeyUsage bits, numbered from the most significant bit of the first byte (RFC 5280 4.2.1.3).
const KU = { digitalSignature: 0x80, keyEncipherment: 0x20, keyCertSign: 0x04, cRLSign: 0x02 } as const;

/** Clocks on line PCs drift; certificates start a little in the past so they are valid at once. */
const BACKDATE_MS = 5 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function extension(extnID: string, critical: boolean, value: { toSchema(): asn1js.AsnType }): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toSchema().toBER(false), parsedValue: value });
}

function rawExtension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

function keyUsage(bits: number): asn1js.BitString {
  // DER: the unused-bits count is the number of trailing zero bits of the last byte.
  let unused = 0;
  while (unused < 7 && ((bits >> unused) & 1) === 0) unused++;
  return new asn1js.BitString({ valueHex: new Uint8Array([bits]).buffer, unusedBits: unused });
}

function distinguishedName(name: SubjectName): pkijs.RelativeDistinguishedNames {
  const attributes: [string, string][] = [];
  if (name.organization) attributes.push([OID.organization, name.organization]);
  attributes.push([OID.commonName, name.commonName]);
  // One attribute per RDN SET (pkijs would put them all in one multi-valued SET: "O=x + CN=y").
  const sequence = new asn1js.Sequence({
    value: attributes.map(([type, value]) => new asn1js.Set({ value: [new pkijs.AttributeTypeAndValue({ type, value: new asn1js.Utf8String({ value }) }).toSchema()] })),
  });
  return pkijs.RelativeDistinguishedNames.fromBER(sequence.toBER(false));
}

function time(date: Date): pkijs.Time {
  // RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
  return new pkijs.Time({ type: date.getUTCFullYear() >= 2050 ? pkijs.TimeType.GeneralizedTime : pkijs.TimeType.UTCTime, value: date });
}

function randomSerial(): ArrayBuffer {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte to strip
  return serial.buffer;
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

async function keyIdentifier(spki: pkijs.PublicKeyInfo): Promise<ArrayBuffer> {
  // RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
  return crypto.subtle.digest("SHA-1", spki.subjectPublicKey.valueBlock.valueHexView.slice());
}

function subjectKeyIdentifierOf(cert: pkijs.Certificate): ArrayBuffer | undefined {
  const ext = cert.extensions?.find((e) => e.extnID === OID.subjectKeyIdentifier);
  const parsed = ext ? asn1js.fromBER(ext.extnValue.valueBlock.valueHexView) : undefined;
  return parsed && parsed.result instanceof asn1js.OctetString ? parsed.result.valueBlock.valueHexView.slice().buffer : undefined;
}

/** Issues (signs) one certificate of the given profile. */
export async function issueCertificate(req: IssueRequest): Promise<pkijs.Certificate> {
  pkijsEngine();
  if (!Number.isInteger(req.days) || req.days < 1 || req.days > 36500) {
    throw new UsageError(`validity of ${req.days} days is out of range`, { advice: "give a whole number of days between 1 and 36500" });
  }
  const now = req.now ?? new Date();
  const cert = new pkijs.Certificate();
  cert.version = 2;
  cert.serialNumber = new asn1js.Integer({ valueHex: randomSerial() });
  cert.subject = distinguishedName(req.subject);
  cert.issuer = req.issuer ? req.issuer.subject : cert.subject;
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  let notAfter = new Date(now.getTime() + req.days * DAY_MS);
  // A certificate outliving its issuer would fail verification after the issuer expires anyway.
  const issuerEnd = req.issuer?.notAfter.value;
  if (issuerEnd && notAfter > issuerEnd) notAfter = issuerEnd;
  cert.notBefore = time(notBefore);
  cert.notAfter = time(notAfter);
  await cert.subjectPublicKeyInfo.importKey(req.publicKey);

  const ski = await keyIdentifier(cert.subjectPublicKeyInfo);
  const extensions: pkijs.Extension[] = [];
  if (req.profile === "ca") {
    // pathLen 0: the authority issues end-entity certificates only (nginx ssl_verify_depth 1).
    extensions.push(extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: true, pathLenConstraint: 0 })));
    extensions.push(rawExtension(OID.keyUsage, true, keyUsage(KU.keyCertSign | KU.cRLSign)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, new pkijs.BasicConstraints({ cA: false })));
    const leafIsRsa = cert.subjectPublicKeyInfo.algorithm.algorithmId === "1.2.840.113549.1.1.1";
    extensions.push(rawExtension(OID.keyUsage, true, keyUsage(KU.digitalSignature | (leafIsRsa ? KU.keyEncipherment : 0))));
    extensions.push(extension(OID.extKeyUsage, false, new pkijs.ExtKeyUsage({ keyPurposes: [req.profile === "server" ? OID.serverAuth : OID.clientAuth] })));
  }
  const names = [
    ...(req.sans?.dns ?? []).map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...(req.sans?.ip ?? []).map((ip) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: ipBytes(ip).buffer }) })),
  ];
  if (names.length) extensions.push(extension(OID.subjectAltName, false, new pkijs.GeneralNames({ names })));
  extensions.push(rawExtension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: ski })));
  const aki = req.issuer ? subjectKeyIdentifierOf(req.issuer) : ski;
  if (aki) extensions.push(extension(OID.authorityKeyIdentifier, false, new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: aki }) })));
  cert.extensions = extensions;

  await cert.sign(req.issuerKey.key, KEY_ALGORITHMS[req.issuerKey.algorithm].hash);
  return cert;
}

export function certificateToPem(cert: pkijs.Certificate): string {
  return toPem("CERTIFICATE", cert.toSchema(true).toBER(false));
}

export function certificateFromPem(text: string, field: string): pkijs.Certificate {
  const { der } = fromPem(text, ["CERTIFICATE"], field);
  try {
    return pkijs.Certificate.fromBER(der);
  } catch (e) {
    throw new FormatError(`${field}: not an X.509 certificate (${(e as Error).message})`, { cause: e });
  }
}

/** The subject's common name, for messages. */
export function commonNameOf(cert: pkijs.Certificate): string {
  const cn = cert.subject.typesAndValues.find((tv) => tv.type === OID.commonName);
  return cn ? String(cn.value.valueBlock.value) : "";
}

export function isCaCertificate(cert: pkijs.Certificate): boolean {
  const ext = cert.extensions?.find((e) => e.extnID === OID.basicConstraints);
  return ext?.parsedValue instanceof pkijs.BasicConstraints && ext.parsedValue.cA === true;
}
