// Lab CA and device certificate issuance, checked by the real OpenSSL: `openssl verify` accepts
// the certificates and `openssl x509 -noout -pubkey` gives back the device key that went in.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileSigner } from "../../src/x509/ca-signer.ts";
import { createLabCa, issueDeviceCertificate, loadCa } from "../../src/x509/ca.ts";
import { parseCertificate } from "../../src/x509/certificate.ts";
import { verifyCertificate, type VerifyReport } from "../../src/x509/verify.ts";
import { parseDevicePublicKey, publicKeyPem } from "../../src/x509/pubkey.ts";
import { seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { openssl } from "../helpers/system.ts";

const dir = scratchDir("x509");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const devicePem: string = seed.x509_device_public_key.pem;

for (const keyType of ["p256", "rsa2048"] as const) {
  describe(`lab CA (${keyType})`, async () => {
    const ca = await createLabCa({ subject: "CN=swtool lab CA,O=Acme Devices,C=US", keyType });
    const caPem = join(dir, `ca-${keyType}.pem`);
    writeFileSync(caPem, ca.certPem);
    const signer = fileSigner(new TextEncoder().encode(ca.keyPem), "ca.key");
    const caCert = loadCa(new TextEncoder().encode(ca.certPem), signer);

    test("openssl accepts the CA as a self-signed root", () => {
      const r = openssl("verify", "-CAfile", caPem, caPem);
      expect(r.out).toContain(": OK");
      const text = openssl("x509", "-in", caPem, "-noout", "-text").out;
      expect(text).toContain("CA:TRUE");
      expect(text).toContain("Certificate Sign, CRL Sign");
      expect(text).toContain(keyType === "p256" ? "ecdsa-with-SHA256" : "sha256WithRSAEncryption");
    });

    test("a device certificate for the seed vector key", async () => {
      const issued = await issueDeviceCertificate({ publicKey: parseDevicePublicKey(devicePem), ca: caCert, signer, subject: "CN=device-0001" });
      const file = join(dir, `device-${keyType}.pem`);
      writeFileSync(file, issued.pem);
      expect(openssl("verify", "-CAfile", caPem, file).out).toBe(`${file}: OK\n`);
      expect(openssl("verify", "-CAfile", caPem, "-purpose", "sslclient", file).out).toBe(`${file}: OK\n`);
      expect(openssl("x509", "-in", file, "-noout", "-pubkey").out).toBe(devicePem);
      const text = openssl("x509", "-in", file, "-noout", "-text").out;
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toMatch(/X509v3 Extended Key Usage:\s+TLS Web Client Authentication\n/);
      expect(text).toContain("X509v3 Subject Key Identifier");
      expect(text).toContain("X509v3 Authority Key Identifier");
      expect(text).toContain(keyType === "p256" ? "ecdsa-with-SHA256" : "sha256WithRSAEncryption");
      const serial = openssl("x509", "-in", file, "-noout", "-serial").out.trim().replace("serial=", "");
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
      expect(openssl("x509", "-in", file, "-noout", "-subject", "-issuer").out).toBe("subject=CN = device-0001\nissuer=CN = swtool lab CA, O = Acme Devices, C = US\n");
    });
  });
}

describe("issue: refusals", async () => {
  const ca = await createLabCa({ subject: "CN=A" });
  const other = await createLabCa({ subject: "CN=B" });
  const signer = fileSigner(new TextEncoder().encode(ca.keyPem), "ca.key");

  test("a CA key that does not belong to the CA certificate", () => {
    expect(() => loadCa(new TextEncoder().encode(other.certPem), signer)).toThrow('the CA key (ca.key) does not belong to the CA certificate "CN=B"');
  });

  test("a device certificate given as CA", async () => {
    const caCert = loadCa(new TextEncoder().encode(ca.certPem), signer);
    const issued = await issueDeviceCertificate({ publicKey: parseDevicePublicKey(devicePem), ca: caCert, signer });
    expect(() => loadCa(new TextEncoder().encode(issued.pem), signer)).toThrow("is not a CA certificate");
    expect(issued.report.certificate.subject).toMatch(/^CN=[0-9a-f]{40}$/);
  });

  test("days out of range, bad subjects", async () => {
    const caCert = loadCa(new TextEncoder().encode(ca.certPem), signer);
    const publicKey = parseDevicePublicKey(devicePem);
    await expect(issueDeviceCertificate({ publicKey, ca: caCert, signer, days: 0 })).rejects.toThrow("--days must be a whole number");
    await expect(issueDeviceCertificate({ publicKey, ca: caCert, signer, subject: "device" })).rejects.toThrow('"device" is not TYPE=value');
    await expect(issueDeviceCertificate({ publicKey, ca: caCert, signer, subject: "XX=1" })).rejects.toThrow('unknown attribute type "XX"');
    await expect(issueDeviceCertificate({ publicKey, ca: caCert, signer, subject: "C=USA" })).rejects.toThrow("two-letter country code");
  });

  test("key files that cannot be CA keys", () => {
    expect(() => fileSigner(new TextEncoder().encode("hello"), "ca.key")).toThrow("ca.key: not a private key");
    expect(() => fileSigner(new TextEncoder().encode(publicKeyPem(parseDevicePublicKey(devicePem))), "ca.key")).toThrow("ca.key: not a private key");
  });
});

describe("verify", async () => {
  const ca = await createLabCa({ subject: "CN=Verify CA" });
  const signer = fileSigner(new TextEncoder().encode(ca.keyPem), "ca.key");
  const caCert = loadCa(new TextEncoder().encode(ca.certPem), signer);
  const issued = await issueDeviceCertificate({ publicKey: parseDevicePublicKey(devicePem), ca: caCert, signer, subject: "CN=d", days: 30 });
  const failed = (r: VerifyReport) => r.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);

  test("a good certificate, and the root itself", () => {
    expect(failed(verifyCertificate(issued.cert, [caCert]))).toEqual([]);
    expect(verifyCertificate(issued.cert, [caCert]).chain).toEqual(["CN=d", "CN=Verify CA"]);
    expect(failed(verifyCertificate(caCert, [caCert]))).toEqual([]);
    expect(failed(verifyCertificate(caCert, []))).toEqual(["trusted root: a self-signed certificate that is not among the given CA certificates"]);
  });

  test("expired and not yet valid", () => {
    const later = new Date(Date.now() + 31 * 86_400_000);
    expect(failed(verifyCertificate(issued.cert, [caCert], later))).toEqual([expect.stringMatching(/^certificate validity: expired /)]);
    const earlier = new Date(Date.now() - 86_400_000);
    expect(failed(verifyCertificate(issued.cert, [caCert], earlier))).toEqual([
      expect.stringMatching(/^certificate validity: not valid before /),
      expect.stringMatching(/^CA validity: not valid before /),
    ]);
  });

  test("another CA with the same name", async () => {
    const impostor = await createLabCa({ subject: "CN=Verify CA" });
    expect(failed(verifyCertificate(issued.cert, [impostor.cert]))).toEqual([
      expect.stringMatching(/^certificate key identifiers: authorityKeyIdentifier [0-9a-f]{40} is not the CA's [0-9a-f]{40}$/),
      "certificate signature: the signature does not verify with the issuer's key",
    ]);
  });

  test("a flipped bit anywhere in the signed part is caught", () => {
    const der = issued.der;
    let checked = 0;
    for (let i = 8; i < der.length - 80; i++) {
      const bad = new Uint8Array(der);
      bad[i]! ^= 0x01;
      let cert;
      try {
        cert = parseCertificate(bad, "tampered");
      } catch {
        continue; // no longer DER: refused while reading
      }
      expect(verifyCertificate(cert, [caCert]).ok).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  }, 60_000); // some 400 verifications: seconds on a loaded 2-core machine, not a speed check

  test("no CA with the issuer's name", async () => {
    const other = await createLabCa({ subject: "CN=Other" });
    expect(failed(verifyCertificate(issued.cert, [other.cert]))).toEqual(['issuer of certificate: no CA certificate with subject "CN=Verify CA" among the 1 given']);
  });

  test("an intermediate made by OpenSSL: issue under it, verify the chain with both tools", async () => {
    const root = join(dir, "o-root");
    const inter = join(dir, "o-inter");
    const ext = join(dir, "o-ext.cnf");
    writeFileSync(ext, "[v3_inter]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
    expect(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${root}.key`).code).toBe(0);
    expect(openssl("req", "-x509", "-new", "-key", `${root}.key`, "-subj", "/CN=OpenSSL Root", "-days", "30", "-out", `${root}.pem`).code).toBe(0);
    expect(openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${inter}.key`).code).toBe(0);
    expect(openssl("req", "-new", "-key", `${inter}.key`, "-subj", "/O=Acme/CN=OpenSSL Intermediate", "-out", `${inter}.csr`).code).toBe(0);
    expect(openssl("x509", "-req", "-in", `${inter}.csr`, "-CA", `${root}.pem`, "-CAkey", `${root}.key`, "-CAcreateserial", "-days", "30", "-extfile", ext, "-extensions", "v3_inter", "-out", `${inter}.pem`).code).toBe(0);
    const interSigner = fileSigner(await Bun.file(`${inter}.key`).bytes(), "inter.key");
    const interCert = loadCa(await Bun.file(`${inter}.pem`).bytes(), interSigner);
    const rootCert = parseCertificate(await Bun.file(`${root}.pem`).bytes(), "root");
    const leaf = await issueDeviceCertificate({ publicKey: parseDevicePublicKey(devicePem), ca: interCert, signer: interSigner, subject: "CN=leaf", chain: [rootCert] });
    expect(leaf.report.chain).toEqual(["CN=leaf", "O=Acme, CN=OpenSSL Intermediate", "CN=OpenSSL Root"]);
    writeFileSync(join(dir, "leaf.pem"), leaf.pem);
    expect(openssl("verify", "-CAfile", `${root}.pem`, "-untrusted", `${inter}.pem`, join(dir, "leaf.pem")).out).toBe(`${join(dir, "leaf.pem")}: OK\n`);
    expect(failed(verifyCertificate(leaf.cert, [interCert]))).toEqual(['issuer of CA: no CA certificate with subject "CN=OpenSSL Root" among the 1 given']);
  });
});
