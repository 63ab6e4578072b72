// Verifies a certificate against CA certificates the way `openssl verify` does for this profile
// (RFC 5280 section 6, simplified to what a lab or factory CA needs): issuer found by name and
// key identifier, every signature up to a self-signed root, validity dates of every
// certificate, CA flags and key usage of issuers, and the end entity's client-auth usage.
import { createPublicKey, verify } from "node:crypto";
import type * as pkijs from "pkijs";
import { equal, toHex } from "../lib/bytes.ts";
import { authorityKeyId, certificateDer, extKeyUsage, isCa, KEY_USAGE, keyUsage, nameDer, OID, serialHex, spkiDer, subjectKeyId } from "./certificate.ts";
import { formatName } from "./name.ts";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serial: string;
  notBefore: string;
  notAfter: string;
}

export interface VerifyReport {
  ok: boolean;
  certificate: CertificateSummary;
  /** Subjects from the certificate up to the root. */
  chain: string[];
  checks: Check[];
}

const HASH_OF_SIGNATURE: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};

export function summarize(cert: pkijs.Certificate): CertificateSummary {
  return {
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    serial: serialHex(cert),
    notBefore: cert.notBefore.value.toISOString(),
    notAfter: cert.notAfter.value.toISOString(),
  };
}

/** Whether `issuer`'s key made `cert`'s signature; a reason when it did not. */
export function signatureProblem(cert: pkijs.Certificate, issuer: pkijs.Certificate): string | undefined {
  const algorithm = cert.signatureAlgorithm.algorithmId;
  if (algorithm !== cert.signature.algorithmId) return "the inner and outer signature algorithms differ";
  const hash = HASH_OF_SIGNATURE[algorithm];
  if (!hash) return `signature algorithm ${algorithm} is not supported`;
  try {
    const key = createPublicKey({ key: Buffer.from(spkiDer(issuer)), format: "der", type: "spki" });
    const ok = verify(hash, cert.tbsView, key, cert.signatureValue.valueBlock.valueHexView);
    return ok ? undefined : "the signature does not verify with the issuer's key";
  } catch (error) {
    return `the signature cannot be checked: ${(error as Error).message}`;
  }
}

function isSelfIssued(cert: pkijs.Certificate): boolean {
  return equal(nameDer(cert.subject), nameDer(cert.issuer));
}

/** The CA certificate that issued `cert`: same name, and same key identifier when both say. */
function findIssuer(cert: pkijs.Certificate, cas: pkijs.Certificate[]): pkijs.Certificate | undefined {
  const issuerName = nameDer(cert.issuer);
  const aki = authorityKeyId(cert);
  const candidates = cas.filter((ca) => equal(nameDer(ca.subject), issuerName));
  return candidates.find((ca) => !aki || equal(subjectKeyId(ca), aki)) ?? candidates[0];
}

function validity(cert: pkijs.Certificate, now: Date, label: string): Check {
  const from = cert.notBefore.value;
  const to = cert.notAfter.value;
  if (now < from) return { name: `${label} validity`, ok: false, detail: `not valid before ${from.toISOString()}` };
  if (now > to) return { name: `${label} validity`, ok: false, detail: `expired ${to.toISOString()}` };
  return { name: `${label} validity`, ok: true, detail: `${from.toISOString()} .. ${to.toISOString()}` };
}

function issuerChecks(ca: pkijs.Certificate, label: string): Check[] {
  const ca_ = isCa(ca);
  const usage = keyUsage(ca);
  return [
    { name: `${label} is a CA`, ok: ca_ === true, detail: ca_ === true ? "basicConstraints CA:TRUE" : ca_ === false ? "basicConstraints CA:FALSE" : "no basicConstraints" },
    {
      name: `${label} may sign certificates`,
      ok: !usage || usage.has(KEY_USAGE.keyCertSign),
      detail: !usage ? "no keyUsage (any use)" : usage.has(KEY_USAGE.keyCertSign) ? "keyUsage keyCertSign" : "keyUsage lacks keyCertSign",
    },
  ];
}

function endEntityChecks(cert: pkijs.Certificate, server = false): Check[] {
  const purpose = server ? OID.serverAuth : OID.clientAuth;
  const purposeName = server ? "serverAuth" : "clientAuth";
  const usage = keyUsage(cert);
  const eku = extKeyUsage(cert);
  const ca = isCa(cert);
  return [
    { name: "not a CA", ok: ca !== true, detail: ca === true ? "the certificate has basicConstraints CA:TRUE" : "basicConstraints CA:FALSE or absent" },
    {
      name: "key usage",
      ok: !usage || usage.has(KEY_USAGE.digitalSignature),
      detail: !usage ? "no keyUsage (any use)" : usage.has(KEY_USAGE.digitalSignature) ? "digitalSignature" : "keyUsage lacks digitalSignature (TLS client authentication needs it)",
    },
    {
      name: "extended key usage",
      ok: !eku || eku.includes(purpose) || eku.includes(OID.anyExtendedKeyUsage),
      detail: !eku ? "no extendedKeyUsage (any use)" : eku.includes(purpose) ? purposeName : `${purposeName} missing (has ${eku.join(", ")})`,
    },
  ];
}

/** What the certificate should be: a device (TLS client) certificate, a TLS server's, a CA, or whichever it says. */
export type Expect = "device" | "server" | "ca" | "any";

/** Verifies `cert` against the CA certificates in `cas` at time `now`. */
export function verifyCertificate(cert: pkijs.Certificate, cas: pkijs.Certificate[], now = new Date(), expect: Expect = "any"): VerifyReport {
  const asCa = expect === "ca" || (expect === "any" && isCa(cert) === true);
  const checks: Check[] = [validity(cert, now, "certificate"), ...(asCa ? issuerChecks(cert, "certificate") : endEntityChecks(cert, expect === "server"))];
  const chain = [formatName(cert.subject)];
  let current = cert;
  let label = "certificate";
  // A chain longer than the bundle would mean a loop.
  for (let depth = 0; depth <= cas.length; depth++) {
    if (isSelfIssued(current)) {
      const problem = signatureProblem(current, current);
      checks.push({ name: "root self-signature", ok: !problem, detail: problem ?? `${formatName(current.subject)} (self-signed)` });
      if (current === cert) {
        const trusted = cas.some((ca) => equal(certificateDer(ca), certificateDer(cert)));
        checks.push({ name: "trusted root", ok: trusted, detail: trusted ? "the root is among the given CA certificates" : "a self-signed certificate that is not among the given CA certificates" });
      }
      break;
    }
    const issuer = findIssuer(current, cas);
    if (!issuer) {
      checks.push({
        name: `issuer of ${label}`,
        ok: false,
        detail: `no CA certificate with subject "${formatName(current.issuer)}" among the ${cas.length} given`,
      });
      break;
    }
    const issuerLabel = depth === 0 ? "CA" : `CA ${depth + 1}`;
    const aki = authorityKeyId(current);
    const ski = subjectKeyId(issuer);
    checks.push({
      name: `${label} key identifiers`,
      ok: !aki || equal(aki, ski),
      detail: !aki ? "no authorityKeyIdentifier" : equal(aki, ski) ? `authority key ${toHex(aki)}` : `authorityKeyIdentifier ${toHex(aki)} is not the CA's ${toHex(ski)}`,
    });
    const problem = signatureProblem(current, issuer);
    checks.push({ name: `${label} signature`, ok: !problem, detail: problem ?? `signed by ${formatName(issuer.subject)}` });
    checks.push(...issuerChecks(issuer, issuerLabel), validity(issuer, now, issuerLabel));
    chain.push(formatName(issuer.subject));
    current = issuer;
    label = issuerLabel;
  }
  return { ok: checks.every((c) => c.ok), certificate: summarize(cert), chain, checks };
}
