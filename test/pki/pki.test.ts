// swtool pki: the local signing authority's files, checked by openssl (verify, x509, pkey)
// as nginx and line PCs would read them; options, refusals and permissions.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwtoolError, UsageError, VerificationError } from "../../src/lib/errors.ts";
import { initAuthority, issueClient } from "../../src/pki/index.ts";
import { parseCertificate } from "../../src/x509/certificate.ts";
import { parseKeyAlgorithm } from "../../src/x509/keys.ts";
import { parseServerNames } from "../../src/x509/profiles.ts";
import { swtool } from "../helpers/cli.ts";
import { openssl } from "./helpers.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { smallDisk } from "../helpers/disk.ts";
import { generateKey } from "../../src/x509/keys.ts";
import type { CaSigner } from "../../src/x509/ca-signer.ts";

const root = scratchDir("pki");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case-${++n}`);

const mode = (p: string) => statSync(p).mode & 0o777;
const text = (p: string) => openssl("x509", "-in", p, "-noout", "-text").stdout;

describe("pki init", async () => {
  const dir = fresh();
  const result = await initAuthority({ out: dir, serverNames: ["signing.factory.lan,10.20.30.40", "fd00::5"], organization: "ACME Devices" });

  test("writes the five files, keys 0600", () => {
    for (const f of ["ca.pem", "server.pem", "nginx.conf"]) expect(mode(join(dir, f))).toBe(0o644);
    for (const f of ["ca.key", "server.key"]) expect(mode(join(dir, f))).toBe(0o600);
    expect(result.nginxConf).toBe(join(dir, "nginx.conf"));
    expect(mode(dir)).toBe(0o700); // it holds the CA key
  });

  test("openssl verifies the server certificate for TLS server use and the CA for itself", () => {
    const r = openssl("verify", "-CAfile", join(dir, "ca.pem"), "-purpose", "sslserver", "-verify_hostname", "signing.factory.lan", join(dir, "server.pem"));
    expect(r.stdout.trim()).toBe(`${join(dir, "server.pem")}: OK`);
    expect(openssl("verify", "-CAfile", join(dir, "ca.pem"), "-verify_ip", "10.20.30.40", join(dir, "server.pem")).code).toBe(0);
    expect(openssl("verify", "-CAfile", join(dir, "ca.pem"), "-verify_ip", "fd00::5", join(dir, "server.pem")).code).toBe(0);
    expect(openssl("verify", "-CAfile", join(dir, "ca.pem"), "-verify_hostname", "other.lan", join(dir, "server.pem")).code).not.toBe(0);
    // A server certificate is not a client certificate.
    expect(openssl("verify", "-CAfile", join(dir, "ca.pem"), "-purpose", "sslclient", join(dir, "server.pem")).code).not.toBe(0);
  });

  test("extensions: CA with pathlen 0, server with serverAuth and every name", () => {
    const ca = text(join(dir, "ca.pem"));
    expect(ca).toContain("CA:TRUE, pathlen:0");
    expect(ca).toContain("Certificate Sign, CRL Sign");
    expect(ca).toContain("Subject: O = ACME Devices, CN = Sidewalk signing server CA");
    expect(ca).toContain("Issuer: O = ACME Devices, CN = Sidewalk signing server CA");
    const server = text(join(dir, "server.pem"));
    expect(server).toContain("CA:FALSE");
    expect(server).toContain("TLS Web Server Authentication");
    expect(server).toContain("DNS:signing.factory.lan, IP Address:10.20.30.40, IP Address:FD00:0:0:0:0:0:0:5");
    expect(server).toContain("Subject: O = ACME Devices, CN = signing.factory.lan");
    expect(server).toContain("Issuer: O = ACME Devices, CN = Sidewalk signing server CA");
    expect(server).toContain("ecdsa-with-SHA256");
  });

  test("each key is the private half of its certificate", () => {
    for (const [key, pem] of [["ca.key", "ca.pem"], ["server.key", "server.pem"]] as const) {
      const fromKey = openssl("pkey", "-in", join(dir, key), "-pubout").stdout;
      const fromCert = openssl("x509", "-in", join(dir, pem), "-noout", "-pubkey").stdout;
      expect(fromKey).toStartWith("-----BEGIN PUBLIC KEY-----");
      expect(fromKey).toBe(fromCert);
    }
  });

  test("nginx.conf is the guide's reverse proxy", () => {
    const conf = readFileSync(join(dir, "nginx.conf"), "utf8");
    for (const line of [
      "listen 8081 ssl;",
      "ssl_verify_client on;",
      "ssl_verify_depth 1;",
      "proxy_pass http://127.0.0.1:12345;",
      `ssl_client_certificate ${dir}/ca.pem;`,
      `ssl_certificate ${dir}/server.pem;`,
      `ssl_certificate_key ${dir}/server.key;`,
      "server_name signing.factory.lan 10.20.30.40 fd00::5;",
      "error_page 495 =403 /client-certificate-rejected;",
      "error_page 496 =403 /client-certificate-required;",
    ]) {
      expect(conf).toContain(line);
    }
  });

  test("nginx accepts the configuration", () => {
    const work = fresh();
    mkdirSync(work);
    const conf = readFileSync(join(dir, "nginx.conf"), "utf8").replace("listen 8081 ssl;", "listen 127.0.0.1:1 ssl;");
    writeFileSync(join(work, "t.conf"), conf);
    const r = Bun.spawnSync(["/usr/sbin/nginx", "-t", "-p", work, "-c", join(work, "t.conf"), "-g", `pid ${work}/p; error_log ${work}/e.log;`], { stderr: "pipe" });
    expect(r.stderr.toString()).toContain("test is successful");
  });

  test("refuses to overwrite an existing authority; --force replaces it", async () => {
    const before = readFileSync(join(dir, "ca.key"), "utf8");
    const err = await initAuthority({ out: dir, serverNames: ["x.lan"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SwtoolError);
    expect((err as Error).message).toBe(`refusing to overwrite ${["ca.pem", "ca.key", "server.pem", "server.key", "nginx.conf"].map((f) => join(dir, f)).join(", ")}`);
    expect(readFileSync(join(dir, "ca.key"), "utf8")).toBe(before);
    const other = fresh();
    await initAuthority({ out: other, serverNames: ["x.lan"] });
    await initAuthority({ out: other, serverNames: ["y.lan"], force: true });
    expect(text(join(other, "server.pem"))).toContain("DNS:y.lan");
  });
});

describe("pki client", async () => {
  const dir = fresh();
  await initAuthority({ out: dir, serverNames: ["127.0.0.1"] });
  const result = await issueClient({ caDir: dir, name: "LINEPC-07" });
  const bundle = join(dir, "clients", "LINEPC-07");

  test("bundle: client.pem, client.key (0600) and ca.pem, no CA key", () => {
    expect(result.dir).toBe(bundle);
    expect(mode(join(bundle, "client.key"))).toBe(0o600);
    expect(mode(join(bundle, "client.pem"))).toBe(0o644);
    expect(readFileSync(join(bundle, "ca.pem"), "utf8")).toBe(readFileSync(join(dir, "ca.pem"), "utf8"));
    expect(existsSync(join(bundle, "ca.key"))).toBe(false);
  });

  test("openssl verifies it for TLS client use, with CN = the line PC's name", () => {
    const r = openssl("verify", "-CAfile", join(bundle, "ca.pem"), "-purpose", "sslclient", join(bundle, "client.pem"));
    expect(r.stdout.trim()).toBe(`${join(bundle, "client.pem")}: OK`);
    const t = text(join(bundle, "client.pem"));
    expect(t).toContain("Subject: CN = LINEPC-07");
    expect(t).toContain("TLS Web Client Authentication");
    expect(t).not.toContain("TLS Web Server Authentication");
    expect(openssl("verify", "-CAfile", join(bundle, "ca.pem"), "-purpose", "sslserver", join(bundle, "client.pem")).code).not.toBe(0);
    expect(openssl("pkey", "-in", join(bundle, "client.key"), "-pubout").stdout).toBe(openssl("x509", "-in", join(bundle, "client.pem"), "-noout", "-pubkey").stdout);
  });

  test("validity: --days, clamped to the CA's end", async () => {
    const short = await issueClient({ caDir: dir, name: "SHORT", days: 30 });
    const days = (Date.parse(short.client.notAfter) - Date.now()) / 86400000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    const ca = parseCertificate(readFileSync(join(dir, "ca.pem"), "utf8"), "ca.pem");
    const long = await issueClient({ caDir: dir, name: "LONG", days: 36500 });
    expect(long.client.notAfter).toBe(ca.notAfter.value.toISOString());
  });

  test("key algorithms: p384 and RSA verify with openssl", async () => {
    for (const alg of ["p384", "rsa2048"] as const) {
      const d = fresh();
      await initAuthority({ out: d, serverNames: ["a.lan"], keyAlgorithm: alg });
      const c = await issueClient({ caDir: d, name: `PC-${alg}`, keyAlgorithm: alg });
      expect(openssl("verify", "-CAfile", join(d, "ca.pem"), "-purpose", "sslclient", c.client.path).code).toBe(0);
      expect(openssl("verify", "-CAfile", join(d, "ca.pem"), "-purpose", "sslserver", join(d, "server.pem")).code).toBe(0);
      expect(text(c.client.path)).toContain(alg === "p384" ? "ecdsa-with-SHA384" : "sha256WithRSAEncryption");
      if (alg === "rsa2048") expect(text(join(d, "server.pem"))).toContain("Digital Signature, Key Encipherment");
    }
  });

  test("refusals: bad name, missing CA, a key from another CA, existing bundle", async () => {
    await expect(issueClient({ caDir: dir, name: "../etc" })).rejects.toThrow(UsageError);
    await expect(issueClient({ caDir: dir, name: "" })).rejects.toThrow('client name "" is not allowed');
    await expect(issueClient({ caDir: join(dir, "nope"), name: "A" })).rejects.toThrow(`${join(dir, "nope", "ca.pem")} not found`);
    // A line PC bundle is not a CA: it has ca.pem but no ca.key.
    await expect(issueClient({ caDir: bundle, name: "A" })).rejects.toThrow(`${join(bundle, "ca.key")} not found`);
    const mixed = fresh();
    const other = fresh();
    await initAuthority({ out: mixed, serverNames: ["m.lan"] });
    await initAuthority({ out: other, serverNames: ["o.lan"] });
    copyFileSync(join(other, "ca.key"), join(mixed, "ca.key"));
    const err = await issueClient({ caDir: mixed, name: "A" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as Error).message).toBe(`the CA key (${join(mixed, "ca.key")}) does not belong to the CA certificate "CN=Sidewalk signing server CA"`);
    // The server certificate is not a CA.
    const fake = fresh();
    mkdirSync(fake);
    copyFileSync(join(dir, "server.pem"), join(fake, "ca.pem"));
    copyFileSync(join(dir, "server.key"), join(fake, "ca.key"));
    await expect(issueClient({ caDir: fake, name: "A" })).rejects.toThrow("is not a CA certificate");
    await expect(issueClient({ caDir: dir, name: "LINEPC-07" })).rejects.toThrow("refusing to overwrite");
  });
});

describe("inputs", () => {
  test("server names: DNS names and IPs, comma-separated", () => {
    expect(parseServerNames(["a.lan, 10.0.0.1", "B.LAN", "::1"])).toEqual({ dns: ["a.lan", "b.lan"], ip: ["10.0.0.1", "::1"] });
    for (const bad of ["http://a.lan", "a..lan", "a lan", "-a.lan", "10.0.0.1:8081"]) {
      expect(() => parseServerNames([bad])).toThrow(`server name ${JSON.stringify(bad)} is neither a DNS name nor an IP address`);
    }
    expect(() => parseServerNames([" , "])).toThrow("no server name given");
  });

  test("key algorithms", () => {
    expect(parseKeyAlgorithm("P-256")).toBe("p256");
    expect(parseKeyAlgorithm("secp384r1")).toBe("p384");
    expect(parseKeyAlgorithm("RSA3072")).toBe("rsa3072");
    expect(() => parseKeyAlgorithm("ed25519")).toThrow('unknown key algorithm "ed25519"');
  });

  test("validity out of range", async () => {
    await expect(initAuthority({ out: fresh(), serverNames: ["a.lan"], caDays: 0 })).rejects.toThrow("pki init (CA): --days must be a whole number from 1 to 36500 (got 0)");
    // The server's validity is checked before the CA key signs the CA certificate.
    const key = generateKey("p256");
    let signatures = 0;
    const signer = { ...key.signer, sign: (data: Uint8Array) => (signatures++, key.signer.sign(data)) };
    await expect(initAuthority({ out: fresh(), serverNames: ["a.lan"], serverDays: 36501, caSigner: signer })).rejects.toThrow("pki init (server): --days must be a whole number from 1 to 36500 (got 36501)");
    expect(signatures).toBe(0);
  });
});

describe("an --out folder that cannot take the files: refused before the CA key signs", () => {
  const disk = smallDisk(64 * 1024, { readOnly: true });
  afterAll(() => disk?.unmount());
  /** A CA key (held in the HSM, say) that counts what it signs. */
  const counting = (signer: CaSigner) => {
    const counted = { keyType: signer.keyType, publicKey: signer.publicKey, description: "HSM object 0x0042", signatures: 0, sign: (data: Uint8Array) => (counted.signatures++, signer.sign(data)) };
    return counted;
  };

  test.skipIf(!disk)("pki init --ca-key hsm: on a read-only disk", async () => {
    const signer = counting(generateKey("p256").signer);
    await expect(initAuthority({ out: disk!.dir, serverNames: ["a.lan"], caSigner: signer })).rejects.toThrow(`--out: cannot create files in ${disk!.dir}: the file system is read-only`);
    await expect(initAuthority({ out: join(disk!.dir, "pki"), serverNames: ["a.lan"], caSigner: signer })).rejects.toThrow(`--out: cannot create the directory ${join(disk!.dir, "pki")}: the file system is read-only`);
    expect(signer.signatures).toBe(0);
  });

  test.skipIf(!disk)("pki client --ca-key hsm: with --out on a read-only disk", async () => {
    const ca = fresh();
    const key = generateKey("p256");
    await initAuthority({ out: ca, serverNames: ["a.lan"], caSigner: key.signer });
    const signer = counting(key.signer);
    await expect(issueClient({ caDir: ca, name: "LINEPC-09", out: disk!.dir, caSigner: signer })).rejects.toThrow(`--out: cannot create files in ${disk!.dir}: the file system is read-only`);
    expect(signer.signatures).toBe(0);
  });
});

describe("swtool pki (CLI)", () => {
  test("init and client, human and --json output", async () => {
    const dir = fresh();
    const init = await swtool(["pki", "init", "--out", dir, "--server_name", "signing.lan", "--ca-days", "100"]);
    expect(init.stderr).toBe("");
    expect(init.code).toBe(0);
    expect(init.stdout).toContain(`nginx.conf:  ${join(dir, "nginx.conf")}`);
    // The protection is read back from each key file, not assumed.
    expect(init.stdout).toContain(`CA:          ${join(dir, "ca.pem")} (key ${join(dir, "ca.key")}, 0600; keep it on this server only)\n`);
    expect(init.stdout).toContain(`server:      ${join(dir, "server.pem")} (key ${join(dir, "server.key")}, 0600) for signing.lan\n`);
    const client = await swtool(["pki", "client", "--ca", dir, "--name", "LINEPC-07", "--json"]);
    expect(client.code).toBe(0);
    const doc = JSON.parse(client.stdout);
    expect(doc.client.subject).toBe("LINEPC-07");
    expect(doc.client.keyPath).toBe(join(dir, "clients", "LINEPC-07", "client.key"));
    expect(mode(doc.client.keyPath)).toBe(0o600);
    expect(doc.client.keyProtection).toEqual({ private: true, description: "0600" });
  });

  test("errors are operator messages with exit codes", async () => {
    const r = await swtool(["pki", "init", "--out", fresh(), "--server-name", "bad name"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: server name "bad name" is neither a DNS name nor an IP address');
    const missing = await swtool(["pki", "client", "--ca", join(root, "none"), "--name", "A"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`error: ${join(root, "none", "ca.pem")} not found`);
    const days = await swtool(["pki", "client", "--ca", root, "--name", "A", "--days", "ten"]);
    expect(days.code).toBe(2);
    expect(days.stderr).toContain('error: --days "ten" is not a whole number');
  });

  test("validity flags: one range (1 to 36500 days) and one wording for pki and x509", async () => {
    const out = fresh();
    const cases: [string[], string][] = [
      [["pki", "init", "--out", out, "--server-name", "a.lan", "--ca-days", "0"], '--ca-days "0"'],
      [["pki", "init", "--out", out, "--server-name", "a.lan", "--server-days", "36501"], '--server-days "36501"'],
      [["pki", "client", "--ca", out, "--name", "A", "--days", "40000"], '--days "40000"'],
      [["x509", "ca", "init", "--out", out, "--subject", "CN=x", "--days", "0"], '--days "0"'],
    ];
    for (const [args, flag] of cases) {
      expect(await swtool(args)).toEqual({ code: 2, stdout: "", stderr: `error: ${flag} is not a whole number from 1 to 36500\n` });
    }
    expect(existsSync(out)).toBe(false);
  });
});

describe("nginx.conf for a Windows signing server", () => {
  test("paths use forward slashes: nginx reads a backslash as an escape (C:\\temp would hold a tab)", async () => {
    const { nginxConf } = await import("../../src/pki/nginx.ts");
    const conf = nginxConf({ certDir: "C:\\temp\\signing pki\\", serverNames: ["10.0.0.5"], listenPort: 8081, upstream: "127.0.0.1:12345" });
    expect(conf).toContain("ssl_certificate C:/temp/signing pki/server.pem;\n");
    expect(conf).toContain("ssl_certificate_key C:/temp/signing pki/server.key;\n");
    expect(conf).toContain("ssl_client_certificate C:/temp/signing pki/ca.pem;\n");
    expect(conf).not.toMatch(/C:\\/);
  });
});
