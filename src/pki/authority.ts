// The local signing authority of the networked setup: `init` makes the CA, the nginx server
// certificate and nginx.conf on the signing server; `issueClient` makes one line PC's client
// certificate and key into a bundle (client.pem, client.key, ca.pem) that holds no CA key.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type * as pkijs from "pkijs";
import { SwtoolError, UsageError, VerificationError } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { certificateFromPem, certificateToPem, commonNameOf, isCaCertificate, issueCertificate, parseServerNames } from "./certificate.ts";
import { checkNoOverwrite, PUBLIC_MODE, SECRET_MODE, writeAtomic, type PlannedFile } from "./files.ts";
import { assertKeyMatchesCertificate, generateKeyPair, privateKeyFromPem, privateKeyToPem, type KeyAlgorithm, type PrivateKey } from "./keys.ts";
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
}

async function describe(cert: pkijs.Certificate, path: string, keyPath: string): Promise<IssuedCertificate> {
  const der = cert.toSchema(true).toBER(false);
  return {
    path,
    keyPath,
    subject: commonNameOf(cert),
    serial: toHex(cert.serialNumber.valueBlock.valueHexView),
    notAfter: cert.notAfter.value.toISOString(),
    sha256: toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", der))),
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
  const organization = o.organization ? { organization: o.organization } : {};
  const paths = {
    caPem: join(dir, "ca.pem"),
    caKey: join(dir, "ca.key"),
    serverPem: join(dir, "server.pem"),
    serverKey: join(dir, "server.key"),
    nginx: join(dir, "nginx.conf"),
  };
  // Refuse before spending time on key generation.
  checkNoOverwrite(Object.values(paths).map((path) => ({ path, content: "", mode: 0 })), o.force ?? false);

  const caKeys = await generateKeyPair(algorithm);
  const ca = await issueCertificate({
    profile: "ca",
    subject: { commonName: o.caName ?? DEFAULTS.caName, ...organization },
    publicKey: caKeys.publicKey,
    issuerKey: caKeys.privateKey,
    days: o.caDays ?? DEFAULTS.caDays,
  });
  const serverKeys = await generateKeyPair(algorithm);
  const server = await issueCertificate({
    profile: "server",
    subject: { commonName: sans.dns[0] ?? sans.ip[0]!, ...organization },
    publicKey: serverKeys.publicKey,
    issuerKey: caKeys.privateKey,
    issuer: ca,
    days: o.serverDays ?? DEFAULTS.serverDays,
    sans,
  });
  const conf = nginxConf({ certDir: o.certDir ?? dir, serverNames: [...sans.dns, ...sans.ip], listenPort, upstream });
  const files: PlannedFile[] = [
    { path: paths.caKey, content: await privateKeyToPem(caKeys.privateKey), mode: SECRET_MODE },
    { path: paths.caPem, content: certificateToPem(ca), mode: PUBLIC_MODE },
    { path: paths.serverKey, content: await privateKeyToPem(serverKeys.privateKey), mode: SECRET_MODE },
    { path: paths.serverPem, content: certificateToPem(server), mode: PUBLIC_MODE },
    { path: paths.nginx, content: conf, mode: PUBLIC_MODE },
  ];
  checkNoOverwrite(files, o.force ?? false);
  for (const f of files) writeAtomic(f);
  return {
    dir,
    ca: await describe(ca, paths.caPem, paths.caKey),
    server: { ...(await describe(server, paths.serverPem, paths.serverKey)), dnsNames: sans.dns, ipAddresses: sans.ip },
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
}

export interface ClientResult {
  dir: string;
  client: IssuedCertificate;
  caPem: string;
}

export interface Authority {
  cert: pkijs.Certificate;
  certPem: string;
  key: PrivateKey;
}

/** Loads ca.pem and ca.key from a directory made by `initAuthority`, checking they belong together. */
export async function loadAuthority(caDir: string): Promise<Authority> {
  const certPath = join(caDir, "ca.pem");
  const keyPath = join(caDir, "ca.key");
  for (const p of [certPath, keyPath]) {
    if (!existsSync(p)) {
      throw new SwtoolError(`${p} not found`, {
        advice: "--ca must be the directory `swtool pki init --out DIR` wrote (on the signing server; line PCs never hold ca.key)",
      });
    }
  }
  const certPem = readFileSync(certPath, "utf8");
  const cert = certificateFromPem(certPem, certPath);
  if (!isCaCertificate(cert)) throw new VerificationError(`${certPath} is not a CA certificate (basicConstraints CA is not set)`);
  const key = await privateKeyFromPem(readFileSync(keyPath, "utf8"), keyPath);
  await assertKeyMatchesCertificate(key, cert, keyPath);
  if (cert.notAfter.value.getTime() < Date.now()) {
    throw new VerificationError(`the signing authority ${certPath} expired on ${cert.notAfter.value.toISOString()}`, {
      advice: "run `swtool pki init` again and reissue every client certificate",
    });
  }
  return { cert, certPem, key };
}

export async function issueClient(o: ClientOptions): Promise<ClientResult> {
  if (!CLIENT_NAME_RE.test(o.name)) {
    throw new UsageError(`client name ${JSON.stringify(o.name)} is not allowed`, {
      advice: "use 1-64 letters, digits, dots, dashes or underscores, starting with a letter or digit (e.g. LINEPC-07)",
    });
  }
  const authority = await loadAuthority(o.caDir);
  const dir = resolve(o.out ?? join(o.caDir, "clients", o.name));
  const paths = { pem: join(dir, "client.pem"), key: join(dir, "client.key"), ca: join(dir, "ca.pem") };
  checkNoOverwrite(Object.values(paths).map((path) => ({ path, content: "", mode: 0 })), o.force ?? false);
  const keys = await generateKeyPair(o.keyAlgorithm ?? DEFAULTS.keyAlgorithm);
  const cert = await issueCertificate({
    profile: "client",
    subject: { commonName: o.name, ...(o.organization ? { organization: o.organization } : {}) },
    publicKey: keys.publicKey,
    issuerKey: authority.key,
    issuer: authority.cert,
    days: o.days ?? DEFAULTS.clientDays,
  });
  const files: PlannedFile[] = [
    { path: paths.key, content: await privateKeyToPem(keys.privateKey), mode: SECRET_MODE },
    { path: paths.pem, content: certificateToPem(cert), mode: PUBLIC_MODE },
    { path: paths.ca, content: authority.certPem, mode: PUBLIC_MODE },
  ];
  for (const f of files) writeAtomic(f);
  return { dir, client: await describe(cert, paths.pem, paths.key), caPem: paths.ca };
}
