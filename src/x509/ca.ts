// A lab CA for X.509 device certificates: create a self-signed root (P-256 by default, RSA-2048
// as an option) and issue device certificates for public keys whose private half stays in the
// device, as `openssl x509 -req -force_pubkey` does. Every certificate is verified before it
// is handed out.
import { generateKeyPairSync } from "node:crypto";
import type * as pkijs from "pkijs";
import { FormatError, VerificationError } from "../lib/errors.ts";
import { equal, toHex } from "../lib/bytes.ts";
import { fileSigner, type CaKeyType, type CaSigner } from "./ca-signer.ts";
import { caExtensions, certificatePem, deviceExtensions, isCa, keyIdentifier, parseCertificate, randomSerial, signCertificate, spkiDer, subjectKeyId } from "./certificate.ts";
import { formatName, parseName } from "./name.ts";
import type { DevicePublicKey } from "./pubkey.ts";
import { verifyCertificate, type VerifyReport } from "./verify.ts";

const DAY_MS = 86_400_000;

function checkDays(days: number, what: string): number {
  if (!Number.isInteger(days) || days < 1 || days > 36500) {
    throw new FormatError(`${what}: --days must be a whole number from 1 to 36500 (got ${days})`);
  }
  return days;
}

export interface LabCaOptions {
  subject: string;
  keyType?: "p256" | "rsa2048";
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
export async function createLabCa(options: LabCaOptions): Promise<LabCa> {
  const keyType = options.keyType ?? "p256";
  const pair = keyType === "p256" ? generateKeyPairSync("ec", { namedCurve: "prime256v1" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const signer = fileSigner(new TextEncoder().encode(keyPem), "new CA key");
  const cert = await selfSignCa(signer, options);
  return { certPem: certificatePem(cert.der), keyPem, cert: cert.cert };
}

/** A self-signed root certificate for a CA key held anywhere (file or HSM). */
export async function selfSignCa(signer: CaSigner, options: Omit<LabCaOptions, "keyType">): Promise<{ der: Uint8Array; cert: pkijs.Certificate }> {
  const now = options.now ?? new Date();
  const name = parseName(options.subject);
  const keyId = keyIdentifier(signer.publicKey);
  const der = await signCertificate(
    {
      serial: randomSerial(),
      issuer: name,
      subject: name,
      publicKey: signer.publicKey,
      notBefore: now,
      notAfter: new Date(now.getTime() + checkDays(options.days ?? 3650, "x509 ca init") * DAY_MS),
      extensions: caExtensions(keyId),
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
  publicKey: DevicePublicKey;
  ca: pkijs.Certificate;
  signer: CaSigner;
  /** Default: CN=<subject key identifier in hex>. */
  subject?: string;
  days?: number;
  now?: Date;
  /** Further CA certificates up to the root, to verify the chain when `ca` is intermediate. */
  chain?: pkijs.Certificate[];
}

export interface IssuedCertificate {
  der: Uint8Array;
  pem: string;
  cert: pkijs.Certificate;
  report: VerifyReport;
}

/** Issues a device (TLS client) certificate for a public key the CA never saw the private half of. */
export async function issueDeviceCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const now = options.now ?? new Date();
  const subjectKeyIdentifier = keyIdentifier(options.publicKey.spki);
  const der = await signCertificate(
    {
      serial: randomSerial(),
      issuer: options.ca.subject,
      subject: parseName(options.subject ?? `CN=${toHex(subjectKeyIdentifier)}`),
      publicKey: options.publicKey.spki,
      notBefore: now,
      notAfter: new Date(now.getTime() + checkDays(options.days ?? 365, "x509 issue") * DAY_MS),
      extensions: deviceExtensions(subjectKeyIdentifier, subjectKeyId(options.ca)),
    },
    options.signer,
  );
  const cert = parseCertificate(der, "new device certificate");
  const report = verifyCertificate(cert, [options.ca, ...(options.chain ?? [])], now, "device");
  assertVerified(report, "the new device certificate");
  return { der, pem: certificatePem(der), cert, report };
}

export function assertVerified(report: VerifyReport, what: string): void {
  const failed = report.checks.find((c) => !c.ok);
  if (failed) throw new VerificationError(`${what} does not verify: ${failed.name}: ${failed.detail}`);
}

export type { CaKeyType };
