// X.509 v3 certificates (RFC 5280): build the TBSCertificate, have a CaSigner sign it, encode;
// read certificates back from PEM or DER. What goes into the extensions is in profiles.ts.
import { createHash, randomBytes } from "node:crypto";
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { FormatError } from "../lib/errors.ts";
import { signatureAlgorithm, type CaSigner } from "./ca-signer.ts";
import { findPemBlocks, toPem } from "../lib/pem.ts";

export const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  anyExtendedKeyUsage: "2.5.29.37.0",
} as const;

/** keyUsage bits (RFC 5280 4.2.1.3), numbered from the most significant bit of the first byte. */
export const KEY_USAGE = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** 16 random bytes, a positive INTEGER that needs no leading zero: first byte 0x40..0x7f. */
export function randomSerial(): Uint8Array {
  const serial = new Uint8Array(randomBytes(16));
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial;
}

/** RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const info = pkijs.PublicKeyInfo.fromBER(spki);
  return new Uint8Array(createHash("sha1").update(info.subjectPublicKey.valueBlock.valueHexView).digest());
}

export function extension(extnID: string, critical: boolean, value: asn1js.AsnType): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

/** A minimal DER BIT STRING holding the given keyUsage bits. */
export function keyUsageBits(bits: number[]): asn1js.BitString {
  const highest = Math.max(...bits);
  const value = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) value[bit >> 3]! |= 0x80 >> (bit & 7);
  return new asn1js.BitString({ valueHex: value, unusedBits: 7 - (highest & 7) });
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), whole seconds only. */
function certTime(date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000);
  return new pkijs.Time({ type: value.getUTCFullYear() < 2050 ? pkijs.TimeType.UTCTime : pkijs.TimeType.GeneralizedTime, value });
}

export interface CertificateContents {
  serial: Uint8Array;
  issuer: pkijs.RelativeDistinguishedNames;
  subject: pkijs.RelativeDistinguishedNames;
  /** DER SubjectPublicKeyInfo of the subject. */
  publicKey: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  extensions: pkijs.Extension[];
}

/** Encodes the TBSCertificate, has `signer` sign it and returns the DER certificate. */
export async function signCertificate(contents: CertificateContents, signer: CaSigner): Promise<Uint8Array> {
  const algorithm = signatureAlgorithm(signer.keyType);
  const cert = new pkijs.Certificate({
    version: 2,
    serialNumber: new asn1js.Integer({ valueHex: contents.serial }),
    signature: algorithm,
    issuer: contents.issuer,
    notBefore: certTime(contents.notBefore),
    notAfter: certTime(contents.notAfter),
    subject: contents.subject,
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(contents.publicKey),
    extensions: contents.extensions,
    signatureAlgorithm: algorithm,
  });
  cert.tbsView = new Uint8Array(cert.encodeTBS().toBER());
  const signature = await signer.sign(cert.tbsView);
  cert.signatureValue = new asn1js.BitString({ valueHex: signature });
  return new Uint8Array(cert.toSchema().toBER());
}

export function certificatePem(der: Uint8Array): string {
  return toPem("CERTIFICATE", der);
}

function decodeCertificate(der: Uint8Array, what: string): pkijs.Certificate {
  let cert: pkijs.Certificate;
  try {
    cert = pkijs.Certificate.fromBER(der);
    // DER only: a re-encoding that differs means trailing bytes or non-canonical input.
    if (Buffer.compare(Buffer.from(cert.toSchema().toBER()), Buffer.from(der)) !== 0) throw new Error("not DER");
  } catch {
    throw new FormatError(`${what}: not a valid DER X.509 certificate`, { advice: "give the PEM or DER file of the certificate" });
  }
  checkExtensions(cert, what);
  return cert;
}

const EXTENSION_READERS: [string, string, (cert: pkijs.Certificate) => unknown][] = [
  [OID.basicConstraints, "basicConstraints", (c) => isCa(c)],
  [OID.keyUsage, "keyUsage", (c) => keyUsage(c)],
  [OID.extKeyUsage, "extendedKeyUsage", (c) => extKeyUsage(c)],
  [OID.subjectKeyIdentifier, "subjectKeyIdentifier", (c) => subjectKeyId(c)],
  [OID.authorityKeyIdentifier, "authorityKeyIdentifier", (c) => authorityKeyId(c)],
];

/** The extensions verification reads must be well formed and appear once (RFC 5280 4.2). */
function checkExtensions(cert: pkijs.Certificate, what: string): void {
  const seen = new Set<string>();
  for (const ext of cert.extensions ?? []) {
    if (seen.has(ext.extnID)) throw new FormatError(`${what}: extension ${ext.extnID} appears twice`);
    seen.add(ext.extnID);
  }
  for (const [oid, name, read] of EXTENSION_READERS) {
    if (!seen.has(oid)) continue;
    let ok: boolean;
    try {
      ok = read(cert) !== undefined;
    } catch {
      ok = false;
    }
    if (!ok) throw new FormatError(`${what}: the ${name} extension is malformed`);
  }
}

/** Every certificate in a PEM text (a bundle), or the one certificate of a DER file. */
export function parseCertificates(data: Uint8Array | string, what: string): pkijs.Certificate[] {
  const text = typeof data === "string" ? data : new TextDecoder("latin1").decode(data);
  if (text.includes("-----BEGIN")) {
    const blocks = findPemBlocks(text, what).filter((b) => b.label === "CERTIFICATE" || b.label === "TRUSTED CERTIFICATE");
    if (blocks.length === 0) throw new FormatError(`${what}: no CERTIFICATE block in the PEM text`);
    return blocks.map((b) => decodeCertificate(b.der, what));
  }
  if (typeof data === "string") throw new FormatError(`${what}: no PEM certificate in the text`);
  return [decodeCertificate(data, what)];
}

/** Exactly one certificate. */
export function parseCertificate(data: Uint8Array | string, what: string): pkijs.Certificate {
  const certs = parseCertificates(data, what);
  if (certs.length !== 1) throw new FormatError(`${what}: ${certs.length} certificates found, expected one`);
  return certs[0]!;
}

export const certificateDer = (cert: pkijs.Certificate): Uint8Array => new Uint8Array(cert.toSchema().toBER());
export const nameDer = (name: pkijs.RelativeDistinguishedNames): Uint8Array => new Uint8Array(name.toSchema().toBER());
export const spkiDer = (cert: pkijs.Certificate): Uint8Array => new Uint8Array(cert.subjectPublicKeyInfo.toSchema().toBER());
export const serialHex = (cert: pkijs.Certificate): string => Buffer.from(cert.serialNumber.valueBlock.valueHexView).toString("hex");

/** The extension's value as the expected ASN.1 type, all bytes used. */
function decodeExtension<T extends asn1js.AsnType>(ext: pkijs.Extension, type: new (...args: never[]) => T): T {
  const data = ext.extnValue.valueBlock.valueHexView;
  const asn1 = asn1js.fromBER(data);
  if (asn1.offset !== data.length || !(asn1.result instanceof type)) throw new Error(`extension ${ext.extnID} is malformed`);
  return asn1.result;
}

export function findExtension(cert: pkijs.Certificate, oid: string): pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

/** The certificate's subject key identifier, or the RFC 5280 method (1) value of its key. */
export function subjectKeyId(cert: pkijs.Certificate): Uint8Array {
  const ext = findExtension(cert, OID.subjectKeyIdentifier);
  if (ext) return new Uint8Array(decodeExtension(ext, asn1js.OctetString).valueBlock.valueHexView);
  return keyIdentifier(spkiDer(cert));
}

/** keyUsage bits set, or undefined when the extension is absent. */
export function keyUsage(cert: pkijs.Certificate): Set<number> | undefined {
  const ext = findExtension(cert, OID.keyUsage);
  if (!ext) return undefined;
  const bits = decodeExtension(ext, asn1js.BitString).valueBlock.valueHexView;
  const set = new Set<number>();
  bits.forEach((byte, i) => {
    for (let b = 0; b < 8; b++) if (byte & (0x80 >> b)) set.add(i * 8 + b);
  });
  return set;
}

/** basicConstraints cA, or undefined when the extension is absent. */
export function isCa(cert: pkijs.Certificate): boolean | undefined {
  const ext = findExtension(cert, OID.basicConstraints);
  if (!ext) return undefined;
  return pkijs.BasicConstraints.fromBER(ext.extnValue.valueBlock.valueHexView).cA;
}

/** extendedKeyUsage purposes, or undefined when the extension is absent. */
export function extKeyUsage(cert: pkijs.Certificate): string[] | undefined {
  const ext = findExtension(cert, OID.extKeyUsage);
  if (!ext) return undefined;
  return pkijs.ExtKeyUsage.fromBER(ext.extnValue.valueBlock.valueHexView).keyPurposes;
}

/** authorityKeyIdentifier keyIdentifier, when present. */
export function authorityKeyId(cert: pkijs.Certificate): Uint8Array | undefined {
  const ext = findExtension(cert, OID.authorityKeyIdentifier);
  if (!ext) return undefined;
  const id = pkijs.AuthorityKeyIdentifier.fromBER(ext.extnValue.valueBlock.valueHexView).keyIdentifier;
  return id ? new Uint8Array(id.valueBlock.valueHexView) : undefined;
}
