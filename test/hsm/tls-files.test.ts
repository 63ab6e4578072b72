// The networked setup's TLS client files and server, each mistake named: a key from another
// bundle, a certificate given as the key, a passphrase-protected key, a garbage --ca-cert
// (all found before connecting, exit 2), an expired server certificate, and https:// to a port
// that speaks plain HTTP.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connector } from "../../src/hsm/transport.ts";
import { initAuthority, issueClient } from "../../src/pki/index.ts";
import { loadAuthority } from "../../src/pki/authority.ts";
import { certificatePem, keyIdentifier, randomSerial, signCertificate, subjectKeyId } from "../../src/x509/certificate.ts";
import { generateKey } from "../../src/x509/keys.ts";
import { profileExtensions } from "../../src/x509/profiles.ts";
import { swtool } from "../helpers/cli.ts";
import { openssl } from "../pki/helpers.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const root = scratchDir("tls-files");
const pki = join(root, "pki");
const other = join(root, "other");
const bundle = join(pki, "clients", "LINEPC-07");
const otherBundle = join(other, "clients", "LINEPC-08");
const file = (name: string, text: string) => {
  const path = join(root, name);
  writeFileSync(path, text, { mode: 0o600 });
  return path;
};

beforeAll(async () => {
  await initAuthority({ out: pki, serverNames: ["127.0.0.1"] });
  await issueClient({ caDir: pki, name: "LINEPC-07" });
  await initAuthority({ out: other, serverNames: ["127.0.0.1"] });
  await issueClient({ caDir: other, name: "LINEPC-08" });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const tls = (o: { ca?: string; cert?: string; key?: string }) => ({ ca: join(bundle, "ca.pem"), cert: join(bundle, "client.pem"), key: join(bundle, "client.key"), ...o });
const refusal = (files: { ca?: string; cert?: string; key?: string }) => {
  try {
    new Connector({ url: "https://127.0.0.1:8081", tls: tls(files) });
  } catch (e) {
    return { message: (e as Error).message, advice: (e as { advice?: string }).advice, exitCode: (e as { exitCode?: number }).exitCode };
  }
  return undefined;
};

describe("client files checked before connecting", () => {
  test("a key from another bundle", () => {
    const key = join(otherBundle, "client.key");
    expect(refusal({ key })).toEqual({
      message: `--client-key ${key} is not the private key of --client-cert ${join(bundle, "client.pem")}`,
      advice: "give the client.key and client.pem of the same bundle (`swtool pki client`)",
      exitCode: 2,
    });
  });

  test("the certificate given as the key", () => {
    const key = join(bundle, "client.pem");
    expect(refusal({ key })).toEqual({ message: `--client-key ${key} holds a certificate, not a private key`, advice: "give the client.key that `swtool pki client` wrote beside client.pem", exitCode: 2 });
  });

  test("a passphrase-protected key", () => {
    const key = join(root, "encrypted.key");
    expect(openssl("pkey", "-in", join(bundle, "client.key"), "-aes256", "-passout", "pass:secret", "-out", key).code).toBe(0);
    expect(refusal({ key })).toEqual({
      message: `--client-key ${key} is encrypted with a passphrase`,
      advice: `swtool cannot prompt for it on a line: decrypt it once (openssl pkey -in ${key} -out client.key) and keep the result 0600`,
      exitCode: 2,
    });
  });

  test("a garbage --ca-cert, and a damaged certificate in it", () => {
    const garbage = file("garbage.pem", "not a certificate at all\n");
    const advice = "give the ca.pem of the signing server's authority (`swtool pki init` wrote it; `swtool pki client` copies it into each bundle)";
    expect(refusal({ ca: garbage })).toEqual({ message: `--ca-cert ${garbage} holds no PEM certificate`, advice, exitCode: 2 });
    const damaged = file("damaged.pem", "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");
    expect(refusal({ ca: damaged })).toEqual({ message: `--ca-cert ${damaged} holds a damaged certificate (a PEM block whose contents are not an X.509 certificate)`, advice, exitCode: 2 });
  });

  test("a --ca-cert bundle whose last certificate was cut off is refused, not read as the first alone", () => {
    const ca = readFileSync(join(bundle, "ca.pem"), "utf8");
    const cut = file("cut.pem", ca + ca.slice(0, ca.indexOf("-----END")));
    expect(refusal({ ca: cut })).toEqual({
      message: `--ca-cert ${cut} holds a damaged certificate (PEM: "-----BEGIN CERTIFICATE-----" has no matching END line (truncated copy?))`,
      advice: "give the ca.pem of the signing server's authority (`swtool pki init` wrote it; `swtool pki client` copies it into each bundle)",
      exitCode: 2,
    });
  });

  test("through the CLI: one line and exit 2, before the HSM is asked anything", async () => {
    const key = join(bundle, "client.pem");
    const r = await swtool(["hsm", "info", "-c", "https://127.0.0.1:9", "--ca-cert", join(bundle, "ca.pem"), "--client-cert", join(bundle, "client.pem"), "--client-key", key], { env: { SWTOOL_HSM_PIN: "x" } });
    expect(r).toEqual({ code: 2, stdout: "", stderr: `error: --client-key ${key} holds a certificate, not a private key\n  fix: give the client.key that \`swtool pki client\` wrote beside client.pem\n` });
  });
});

describe("the server side", () => {
  test("an expired server certificate is called expired", async () => {
    const authority = await loadAuthority(pki);
    const key = generateKey("p256");
    const day = 86_400_000;
    const expired = await signCertificate(
      {
        serial: randomSerial(),
        issuer: authority.cert.subject,
        subject: authority.cert.subject,
        publicKey: key.publicKey,
        notBefore: new Date(Date.now() - 10 * day),
        notAfter: new Date(Date.now() - 9 * day),
        extensions: profileExtensions("server", { subjectKeyId: keyIdentifier(key.publicKey), authorityKeyId: subjectKeyId(authority.cert), sans: { dns: [], ip: ["127.0.0.1"] } }),
      },
      authority.signer,
    );
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: certificatePem(expired), key: key.keyPem },
      fetch: () => new Response("status=OK\nserial=*\n"),
    });
    try {
      const error = await new Connector({ url: `https://127.0.0.1:${server.port}`, tls: tls({}) }).status().catch((e: Error) => e);
      expect((error as Error).message).toBe(
        `cannot reach the HSM connector at https://127.0.0.1:${server.port}: TLS failed (CERT_HAS_EXPIRED): the server's certificate has expired; renew it on the signing server, or fix this PC's clock if it is wrong`,
      );
    } finally {
      server.stop(true);
    }
  });

  test("https:// to a port that speaks plain HTTP", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("status=OK\nserial=*\n") });
    try {
      const error = (await new Connector({ url: `https://127.0.0.1:${server.port}`, tls: tls({}) }).status().catch((e: Error) => e)) as Error & { advice?: string };
      expect({ message: error.message, advice: error.advice }).toEqual({
        message: `https://127.0.0.1:${server.port} speaks plain HTTP, not TLS: https:// was given for a port without TLS`,
        advice: `use http://127.0.0.1:${server.port} if that is yubihsm-connector on this machine, or the TLS proxy's port (8081 in the setup \`swtool pki init\` writes)`,
      });
    } finally {
      server.stop(true);
    }
  });

  test("the right files reach a TLS server that trusts nothing else", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: readFileSync(join(pki, "server.pem"), "utf8"), key: readFileSync(join(pki, "server.key"), "utf8") },
      fetch: () => new Response("status=OK\nserial=*\nversion=3.0.5\n"),
    });
    try {
      expect((await new Connector({ url: `https://127.0.0.1:${server.port}`, tls: tls({}) }).status()).status).toBe("OK");
    } finally {
      server.stop(true);
    }
  });
});
