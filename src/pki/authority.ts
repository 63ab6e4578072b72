// The local signing authority of the networked setup, laid out for nginx: `init` makes the CA
// (ca.pem, ca.key), the nginx server certificate (server.pem, server.key) and nginx.conf in one
// directory on the signing server; `issueClient` makes one line PC's bundle (clients/<name>/:
// client.pem, client.key, ca.pem) that holds no CA key. Certificates come from the X.509 engine.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as pkijs from "pkijs";
import { SwtoolError, UsageError, VerificationError } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { checkDirectory, fileProtection, type FileProtection } from "../lib/atomic.ts";
import { checkValidityDays, issueCertificate, loadCa, selfSignCa } from "../x509/ca.ts";
import { fileSigner, type CaSigner } from "../x509/ca-signer.ts";
import { certificateDer, certificatePem } from "../x509/certificate.ts";
import { checkNoOverwrite, PRIVATE_DIR_MODE, PUBLIC_MODE, SECRET_MODE, writePlannedFiles, type PlannedFile } from "../x509/files.ts";
import { generateKey, type KeyAlgorithm } from "../x509/keys.ts";
import { parseServerNames } from "../x509/profiles.ts";
import { DEFAULT_LISTEN_PORT, DEFAULT_UPSTREAM, nginxConf } from "./nginx.ts";

export const DEFAULTS = {
  keyAlgorithm: "p256" as KeyAlgorithm,
  caDays: 3650,
  serverDays: 825,
  clientDays: 825,
  caName: "Sidewalk signing server CA",
};

export interface IssuedCertificate {
  path: string;
  keyPath: string;
  subject: string;
  serial: string;
  notAfter: string;
  sha256: string;
  /** How the key file is protected, read back after writing (absent for a key in the HSM). */
  keyProtection?: FileProtection;
}

/** A subject of common name and optional organization, escaped for parseName. */
function subjectOf(commonName: string, organization?: string): string {
  const esc = (v: string) => v.replace(/([,\\])/g, "\\$1");
  return `${organization ? `O=${esc(organization)},` : ""}CN=${esc(commonName)}`;
}

function commonNameOf(cert: pkijs.Certificate): string {
  const cn = cert.subject.typesAndValues.find((tv) => tv.type === "2.5.4.3");
  return cn ? String(cn.value.valueBlock.value) : "";
}

/** `keyFile`: the key was written to keyPath (not held in the HSM), so say how it is protected. */
function describe(cert: pkijs.Certificate, path: string, keyPath: string, keyFile = true): IssuedCertificate {
  return {
    path,
    keyPath,
    subject: commonNameOf(cert),
    serial: toHex(cert.serialNumber.valueBlock.valueHexView),
    notAfter: cert.notAfter.value.toISOString(),
    sha256: createHash("sha256").update(certificateDer(cert)).digest("hex"),
    ...(keyFile ? { keyProtection: fileProtection(keyPath) } : {}),
  };
}

export interface InitOptions {
  out: string;
  serverNames: string[];
  keyAlgorithm?: KeyAlgorithm;
  caDays?: number;
  serverDays?: number;
  caName?: string;
  organization?: string;
  listenPort?: number;
  upstream?: string;
  /** Directory nginx.conf names for the files (default: the absolute --out directory). */
  certDir?: string;
  force?: boolean;
  /** The CA key held elsewhere (the YubiHSM): no ca.key is made or written. */
  caSigner?: CaSigner;
}

export interface InitResult {
  dir: string;
  ca: IssuedCertificate;
  server: IssuedCertificate & { dnsNames: string[]; ipAddresses: string[] };
  nginxConf: string;
}

export async function initAuthority(o: InitOptions): Promise<InitResult> {
  const dir = resolve(o.out);
  const sans = parseServerNames(o.serverNames);
  const listenPort = o.listenPort ?? DEFAULT_LISTEN_PORT;
  if (!Number.isInteger(listenPort) || listenPort < 1 || listenPort > 65535) throw new UsageError(`listen port ${o.listenPort} is not a TCP port`, { advice: "give a number between 1 and 65535" });
  const upstream = o.upstream ?? DEFAULT_UPSTREAM;
  if (!/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$/.test(upstream)) throw new UsageError(`upstream ${JSON.stringify(upstream)} is not host:port`, { advice: `the default is ${DEFAULT_UPSTREAM}, where yubihsm-connector listens` });
  const algorithm = o.keyAlgorithm ?? DEFAULTS.keyAlgorithm;
  // Both validities before the CA key signs the first certificate.
  const caDays = checkValidityDays(o.caDays ?? DEFAULTS.caDays, "pki init (CA)");
  const serverDays = checkValidityDays(o.serverDays ?? DEFAULTS.serverDays, "pki init (server)");
  const organization = o.organization ? { organization: o.organization } : {};
  const paths = {
    caPem: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    serverPem: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    nginx: join(dir, "nginx.conf"),
  };
  // Refuse before spending time on key generation.
  checkNoOverwrite(Object.values(paths).filter((p) => !(o.caSigner && p === paths.caKey)), o.force ?? false);
  // And before the CA key (perhaps in the HSM) signs: the files must have somewhere to go.
  checkDirectory(dir, "--out", { create: true, mode: PRIVATE_DIR_MODE });

  const caKey = o.caSigner ? undefined : generateKey(algorithm, "new CA key");
  const caSigner = o.caSigner ?? caKey!.signer;
  const ca = await selfSignCa(caSigner, { subject: subjectOf(o.caName ?? DEFAULTS.caName, o.organization), days: caDays, pathLength: 0, what: "pki init" });
  const serverKey = generateKey(algorithm, "new server key");
  const server = await issueCertificate({
    profile: "server",
    subject: subjectOf(sans.dns[0] ?? sans.ip[0]!, o.organization),
    publicKey: serverKey.publicKey,
    ca: ca.cert,
    signer: caSigner,
    days: serverDays,
    sans,
    what: "pki init",
  });
  const conf = nginxConf({ certDir: o.certDir ?? dir, serverNames: [...sans.dns, ...sans.ip], listenPort, upstream });
  writePlannedFiles([
    ...(caKey ? [{ path: paths.caKey, content: caKey.keyPem, mode: SECRET_MODE }] : []),
    { path: paths.caPem, content: certificatePem(ca.der), mode: PUBLIC_MODE },
    { path: paths.serverKey, content: serverKey.keyPem, mode: SECRET_MODE },
    { path: paths.serverPem, content: server.pem, mode: PUBLIC_MODE },
    { path: paths.nginx, content: conf, mode: PUBLIC_MODE },
  ]);
  return {
    dir,
    ca: caKey ? describe(ca.cert, paths.caPem, paths.caKey) : describe(ca.cert, paths.caPem, caSigner.description, false),
    server: { ...describe(server.cert, paths.serverPem, paths.serverKey), dnsNames: sans.dns, ipAddresses: sans.ip },
    nginxConf: paths.nginx,
  };
}

/** Line PC names become certificate subjects and directory names: keep them plain. */
const CLIENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ClientOptions {
  caDir: string;
  name: string;
  /** Bundle directory (default: <caDir>/clients/<name>). */
  out?: string;
  keyAlgorithm?: KeyAlgorithm;
  days?: number;
  organization?: string;
  force?: boolean;
  /** The CA key when it is held in the YubiHSM instead of <caDir>/ca.key. */
  caSigner?: CaSigner;
}

export interface ClientResult {
  dir: string;
  client: IssuedCertificate;
  caPem: string;
}

export interface Authority {
  cert: pkijs.Certificate;
  certPem: string;
  signer: CaSigner;
}

/** Loads ca.pem and ca.key from a directory made by `initAuthority`, checking they belong together. */
export async function loadAuthority(caDir: string, caSigner?: CaSigner): Promise<Authority> {
  const certPath = join(caDir, "ca.pem");
  const keyPath = join(caDir, "ca.key");
  for (const p of caSigner ? [certPath] : [certPath, keyPath]) {
    if (!existsSync(p)) {
      throw new SwtoolError(`${p} not found`, {
        advice: "--ca must be the directory `swtool pki init --out DIR` wrote (on the signing server; line PCs never hold ca.key)",
      });
    }
  }
  const certPem = readFileSync(certPath, "utf8");
  const signer = caSigner ?? fileSigner(readFileSync(keyPath), keyPath);
  const cert = loadCa(new TextEncoder().encode(certPem), signer, certPath);
  if (cert.notAfter.value.getTime() < Date.now()) {
    throw new VerificationError(`the signing authority ${certPath} expired on ${cert.notAfter.value.toISOString()}`, {
      advice: "run `swtool pki init` again and reissue every client certificate",
    });
  }
  return { cert, certPem, signer };
}

export async function issueClient(o: ClientOptions): Promise<ClientResult> {
  if (!CLIENT_NAME_RE.test(o.name)) {
    throw new UsageError(`client name ${JSON.stringify(o.name)} is not allowed`, {
      advice: "use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. LINEPC-07)",
    });
  }
  const days = checkValidityDays(o.days ?? DEFAULTS.clientDays, "pki client");
  const authority = await loadAuthority(o.caDir, o.caSigner);
  const dir = resolve(o.out ?? join(o.caDir, "clients", o.name));
  const paths = { pem: join(dir, "client.pem"), key: join(dir, "client.key"), ca: join(dir, "ca.pem") };
  checkNoOverwrite(Object.values(paths), o.force ?? false);
  checkDirectory(dir, "--out", { create: true, mode: PRIVATE_DIR_MODE });
  const key = generateKey(o.keyAlgorithm ?? DEFAULTS.keyAlgorithm, "new client key");
  const client = await issueCertificate({
    profile: "client",
    subject: subjectOf(o.name, o.organization),
    publicKey: key.publicKey,
    ca: authority.cert,
    signer: authority.signer,
    days,
    what: "pki client",
  });
  writePlannedFiles([
    { path: paths.key, content: key.keyPem, mode: SECRET_MODE },
    { path: paths.pem, content: client.pem, mode: PUBLIC_MODE },
    { path: paths.ca, content: authority.certPem, mode: PUBLIC_MODE },
  ]);
  return { dir, client: describe(client.cert, paths.pem, paths.key), caPem: paths.ca };
}
