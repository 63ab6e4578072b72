// Issuing X.509 certificates, the one engine for every CA swtool runs: a self-signed root, and
// certificates of any profile (profiles.ts) for a public key whose private half the CA may
// never see, as `openssl x509 -req -force_pubkey` does. The lab CA of `swtool x509` issues
// device certificates; the signing server's authority (src/pki) server and client ones.
// Every certificate is verified before it is handed out.
import * as pkijs from "pkijs";
import { FormatError, VerificationError } from "../lib/errors.ts";
import { equal, toHex } from "../lib/bytes.ts";
import type { CaKeyType, CaSigner } from "./ca-signer.ts";
import { certificatePem, isCa, keyIdentifier, parseCertificate, randomSerial, signCertificate, spkiDer, subjectKeyId } from "./certificate.ts";
import { generateKey, type KeyAlgorithm } from "./keys.ts";
import { profileExtensions, type Profile, type SubjectAltNames } from "./profiles.ts";
import { formatName, parseName } from "./name.ts";
import type { DevicePublicKey } from "./pubkey.ts";
import { verifyCertificate, type VerifyReport } from "./verify.ts";

const DAY_MS = 86_400_000;
/** Clocks on line PCs drift; certificates start a little in the past so they are valid at once. */
const BACKDATE_MS = 5 * 60 * 1000;

/** The validity every certificate swtool issues may have, in days (the CLI's --days flags share it). */
export const VALIDITY_DAYS = { min: 1, max: 36500 } as const;

/** Refuses a validity outside VALIDITY_DAYS (the CLI checks its flags first; this guards library callers). */
export function checkValidityDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < VALIDITY_DAYS.min || days > VALIDITY_DAYS.max) {
    throw new FormatError(`${what}: --days must be a whole number from ${VALIDITY_DAYS.min} to ${VALIDITY_DAYS.max} (got ${days})`);
  }
  return days;
}

export interface LabCaOptions {
  subject: string;
  keyType?: KeyAlgorithm;
  days?: number;
  now?: Date;
}

export interface LabCa {
  certPem: string;
  /** PKCS#8 PEM; the caller writes it with owner-only permissions. */
  keyPem: string;
  cert: pkijs.Certificate;
}

/** Generates a CA key pair and its self-signed root certificate. */
export async function createLabCa(options: LabCaOptions & { pathLength?: number; what?: string }): Promise<LabCa> {
  const key = generateKey(options.keyType ?? "p256", "new CA key");
  const cert = await selfSignCa(key.signer, options);
  return { certPem: certificatePem(cert.der), keyPem: key.keyPem, cert: cert.cert };
}

/** A self-signed root certificate for a CA key held anywhere (file or HSM). */
export async function selfSignCa(signer: CaSigner, options: Omit<LabCaOptions, "keyType"> & { pathLength?: number; what?: string }): Promise<{ der: Uint8Array; cert: pkijs.Certificate }> {
  const now = options.now ?? new Date();
  const name = parseName(options.subject);
  const keyId = keyIdentifier(signer.publicKey);
  const der = await signCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      publicKey: signer.publicKey,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(now.getTime() + checkValidityDays(options.days ?? 3650, options.what ?? "x509 ca init") * DAY_MS),
      extensions: profileExtensions("ca", { subjectKeyId: keyId, authorityKeyId: keyId, ...(options.pathLength !== undefined ? { pathLength: options.pathLength } : {}) }),
    },
    signer,
  );
  const cert = parseCertificate(der, "new CA certificate");
  assertVerified(verifyCertificate(cert, [cert], now, "ca"), "the new CA certificate");
  return { der, cert };
}

/** Loads the CA certificate and checks that it is a CA and that `signer` holds its key. */
export function loadCa(certData: Uint8Array, signer: CaSigner, what = "CA certificate"): pkijs.Certificate {
  const cert = parseCertificate(certData, what);
  if (isCa(cert) !== true) {
    throw new VerificationError(`${what}: "${formatName(cert.subject)}" is not a CA certificate (no basicConstraints CA:TRUE)`, {
      advice: "give the CA certificate (ca.pem), not a device certificate",
    });
  }
  if (!equal(spkiDer(cert), signer.publicKey)) {
    throw new VerificationError(`the CA key (${signer.description}) does not belong to the CA certificate "${formatName(cert.subject)}"`, {
      advice: "give the key that was made with this CA certificate (same directory of `swtool x509 ca init`)",
    });
  }
  return cert;
}

export interface IssueOptions {
  /** DER SubjectPublicKeyInfo of the subject (for a device: its parsed public key's spki). */
  publicKey: Uint8Array;
  profile: Exclude<Profile, "ca">;
  ca: pkijs.Certificate;
  signer: CaSigner;
  /** "CN=..., O=..." (parseName); default: CN=<subject key identifier in hex>. */
  subject?: string;
  days?: number;
  now?: Date;
  sans?: SubjectAltNames;
  /** Further CA certificates up to the root, to verify the chain when `ca` is intermediate. */
  chain?: pkijs.Certificate[];
  /** Names the command in a --days refusal. */
  what?: string;
}

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
  cert: pkijs.Certificate;
  report: VerifyReport;
}

/** Issues a certificate of `profile` for a public key the CA never saw the private half of. */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const now = options.now ?? new Date();
  const subjectKeyIdentifier = keyIdentifier(options.publicKey);
  let notAfter = new Date(now.getTime() + checkValidityDays(options.days ?? 365, options.what ?? "x509 issue") * DAY_MS);
  // A certificate outliving its issuer would stop verifying when the issuer expires anyway.
  if (notAfter > options.ca.notAfter.value) notAfter = options.ca.notAfter.value;
  const rsaKey = pkijsRsa(options.publicKey);
  const der = await signCertificate(
    {
      serial: randomSerial(),
      issuer: options.ca.subject,
      subject: parseName(options.subject ?? `CN=${toHex(subjectKeyIdentifier)}`),
      publicKey: options.publicKey,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
      extensions: profileExtensions(options.profile, { subjectKeyId: subjectKeyIdentifier, authorityKeyId: subjectKeyId(options.ca), rsaKey, ...(options.sans ? { sans: options.sans } : {}) }),
    },
    options.signer,
  );
  const cert = parseCertificate(der, `new ${options.profile} certificate`);
  const report = verifyCertificate(cert, [options.ca, ...(options.chain ?? [])], now, options.profile === "server" ? "server" : "device");
  assertVerified(report, `the new ${options.profile} certificate`);
  return { der, pem: certificatePem(der), cert, report };
}

/** A device (TLS client) certificate for a secure element's public key. */
export function issueDeviceCertificate(options: Omit<IssueOptions, "publicKey" | "profile"> & { publicKey: DevicePublicKey }): Promise<IssuedCertificate> {
  return issueCertificate({ ...options, publicKey: options.publicKey.spki, profile: "device" });
}

const OID_RSA = "1.2.840.113549.1.1.1";
function pkijsRsa(spki: Uint8Array): boolean {
  return pkijs.PublicKeyInfo.fromBER(spki).algorithm.algorithmId === OID_RSA;
}

export function assertVerified(report: VerifyReport, what: string): void {
  const failed = report.checks.find((c) => !c.ok);
  if (failed) throw new VerificationError(`${what} does not verify: ${failed.name}: ${failed.detail}`);
}

export type { CaKeyType };
