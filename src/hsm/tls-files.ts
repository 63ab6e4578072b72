// The TLS client files of the networked setup (--ca-cert, --client-cert, --client-key), read
// and checked before any connection: a wrong file otherwise surfaces as a vague handshake
// failure ("FailedToOpenSocket: Was there a typo in the url or port?").
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { findPemBlocks, type PemBlock } from "../lib/pem.ts";

export interface TlsFiles {
  /** CA certificate (PEM) that signed the proxy's server certificate. */
  ca?: string;
  /** Client certificate (PEM) the proxy requires. */
  cert?: string;
  /** Client private key (PEM). */
  key?: string;
}

function readPem(path: string, what: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the ${what} ${JSON.stringify(path)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      advice: `check the path given to --${flag}`,
    });
  }
}

/** Every certificate in a PEM file; refuses a file without one, or with one cut short or that does not parse. */
function certificates(text: string, path: string, flag: string, advice: string): X509Certificate[] {
  const damaged = (e: unknown) => new UsageError(`--${flag} ${path} holds a damaged certificate (${(e as Error).message})`, { advice });
  let blocks: PemBlock[];
  try {
    blocks = findPemBlocks(text).filter((b) => b.label === "CERTIFICATE");
  } catch (e) {
    throw damaged(e);
  }
  if (blocks.length === 0) throw new UsageError(`--${flag} ${path} holds no PEM certificate`, { advice });
  return blocks.map((block) => {
    try {
      return new X509Certificate(block.der);
    } catch {
      // OpenSSL's own text ("PEM routines:...:NO_START_LINE") would point at the wrong thing.
      throw damaged(new Error(`a PEM block whose contents are not an X.509 certificate`));
    }
  });
}

function privateKey(text: string, path: string): KeyObject {
  const advice = "give the client.key that `swtool pki client` wrote beside client.pem";
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw new UsageError(`--client-key ${path} is encrypted with a passphrase`, { advice: `swtool cannot prompt for it on a line: decrypt it once (openssl pkey -in ${path} -out client.key) and keep the result 0600` });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    const what = text.includes("-----BEGIN CERTIFICATE-----") ? "a certificate, not a private key" : "no PEM private key";
    throw new UsageError(`--client-key ${path} holds ${what}`, { advice });
  }
  try {
    return createPrivateKey(text);
  } catch (e) {
    throw new UsageError(`--client-key ${path} holds a damaged private key (${(e as Error).message})`, { advice });
  }
}

/** Reads the files given and checks each holds what its flag says, and that the key is the certificate's. */
export function readTlsFiles(files: TlsFiles): { ca?: string; cert?: string; key?: string } {
  const out: { ca?: string; cert?: string; key?: string } = {};
  if (files.ca !== undefined) {
    out.ca = readPem(files.ca, "CA certificate", "ca-cert");
    certificates(out.ca, files.ca, "ca-cert", "give the ca.pem of the signing server's authority (`swtool pki init` wrote it; `swtool pki client` copies it into each bundle)");
  }
  if (files.cert !== undefined && files.key !== undefined) {
    out.cert = readPem(files.cert, "client certificate", "client-cert");
    out.key = readPem(files.key, "client key", "client-key");
    const [cert] = certificates(out.cert, files.cert, "client-cert", "give the client.pem that `swtool pki client` wrote for this line PC");
    const key = privateKey(out.key, files.key);
    if (!cert!.checkPrivateKey(key)) {
      throw new UsageError(`--client-key ${files.key} is not the private key of --client-cert ${files.cert}`, { advice: "give the client.key and client.pem of the same bundle (`swtool pki client`)" });
    }
  }
  return out;
}
