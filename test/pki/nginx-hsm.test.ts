// The networked setup end to end with swtool alone: `swtool pki` makes the CA, server and
// client certificates and nginx.conf; a real nginx runs that configuration in front of
// `swtool hsm simulate` (standing in for yubihsm-connector); `swtool hsm info` and
// `swtool sign` reach the HSM through it with the line PC's client certificate, and fail with
// a clear message without one, with one from another CA, or when the server's certificate
// does not name the address dialled.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CURVES } from "../../src/sidewalk/curves.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { CLIENT_CERT_REJECTED, CLIENT_CERT_REQUIRED, loadAuthority } from "../../src/pki/index.ts";
import { issueCertificate } from "../../src/x509/ca.ts";
import { generateKey } from "../../src/x509/keys.ts";
import { swtool, spawnSwtoolServer } from "../helpers/cli.ts";
import { startNginx, type RunningNginx } from "./helpers.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { opensslOk } from "../helpers/system.ts";

const PIN = "nginx-test-PIN-4711";
const env = { SWTOOL_HSM_PIN: PIN };
const root = scratchDir("nginx-hsm");
const pki = join(root, "pki");
const bundle = join(pki, "clients", "LINEPC-07");
const intruder = join(root, "other", "clients", "INTRUDER");
let simulator: ReturnType<typeof Bun.spawn> & { stdout: ReadableStream<Uint8Array> };
let simulatorUrl = "";
let nginx: RunningNginx;
let misnamed: RunningNginx;

async function ok(args: string[]): Promise<void> {
  const r = await swtool(args, { env });
  if (r.code !== 0) throw new Error(`swtool ${args.join(" ")}: ${r.stderr}`);
}

beforeAll(async () => {
  await ok(["pki", "init", "--out", pki, "--server-name", "127.0.0.1"]);
  await ok(["pki", "client", "--ca", pki, "--name", "LINEPC-07"]);
  await ok(["pki", "init", "--out", join(root, "other"), "--server-name", "127.0.0.1"]);
  await ok(["pki", "client", "--ca", join(root, "other"), "--name", "INTRUDER"]);
  const started = await spawnSwtoolServer(["hsm", "simulate", "--listen", "127.0.0.1:0", "--state", join(root, "hsm.json"), "--json"]);
  simulator = started.proc as typeof simulator;
  simulatorUrl = started.first.url as string;
  await ok(["hsm", "load-test-chain", "--connector", simulatorUrl, "--product", "TEST_DAK_NGINX"]);
  const upstreamPort = Number(new URL(simulatorUrl).port);
  nginx = await startNginx({ conf: join(pki, "nginx.conf"), workDir: join(root, "nginx"), upstreamPort });
  // The same authority's server certificate, but for another name than the one dialled.
  const authority = await loadAuthority(pki);
  const key = generateKey("p256");
  const cert = await issueCertificate({ profile: "server", subject: "CN=signing.elsewhere.lan", publicKey: key.publicKey, ca: authority.cert, signer: authority.signer, days: 1, sans: { dns: ["signing.elsewhere.lan"], ip: [] } });
  await Bun.write(join(root, "misnamed.pem"), cert.pem);
  await Bun.write(join(root, "misnamed.key"), key.keyPem);
  misnamed = await startNginx({
    conf: join(pki, "nginx.conf"),
    workDir: join(root, "nginx-misnamed"),
    upstreamPort,
    replace: [
      [`ssl_certificate ${pki}/server.pem;`, `ssl_certificate ${root}/misnamed.pem;`],
      [`ssl_certificate_key ${pki}/server.key;`, `ssl_certificate_key ${root}/misnamed.key;`],
    ],
  });
});

afterAll(async () => {
  await nginx?.stop();
  await misnamed?.stop();
  simulator?.kill("SIGINT");
  await simulator?.exited;
  rmSync(root, { recursive: true, force: true });
});

const through = (n: RunningNginx) => ["--connector", `https://127.0.0.1:${n.port}`, "--ca-cert", join(bundle, "ca.pem")];
const clientCert = ["--client-cert", join(bundle, "client.pem"), "--client-key", join(bundle, "client.key")];

describe("swtool hsm info through nginx with mutual TLS", () => {
  test("with the line PC's client certificate", async () => {
    const r = await swtool(["hsm", "info", ...through(nginx), ...clientCert], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`connector    https://127.0.0.1:${nginx.port}`);
    expect(r.stdout).toContain("TEST_DAK_NGINX: chain complete and verifies");
    expect(r.stdout + r.stderr).not.toContain(PIN);
  });

  test("without a client certificate: refused, and the message says why", async () => {
    const r = await swtool(["hsm", "info", ...through(nginx)], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: the TLS proxy at https://127.0.0.1:${nginx.port} refused the request (HTTP 403: ${CLIENT_CERT_REQUIRED})\n` +
        "  fix: give --client-cert and --client-key: a client certificate issued by the signing server's CA (`swtool pki client`)\n",
    );
  });

  test("with a client certificate from another CA: refused", async () => {
    const r = await swtool(["hsm", "info", ...through(nginx), "--client-cert", join(intruder, "client.pem"), "--client-key", join(intruder, "client.key")], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: the TLS proxy at https://127.0.0.1:${nginx.port} refused the request (HTTP 403: ${CLIENT_CERT_REJECTED})\n` +
        "  fix: the client certificate given is not accepted: use --client-cert/--client-key issued by this signing server's CA (`swtool pki client`)\n",
    );
  });

  test("when the server certificate does not name the address dialled: refused", async () => {
    const r = await swtool(["hsm", "info", ...through(misnamed), ...clientCert], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `error: cannot reach the HSM connector at https://127.0.0.1:${misnamed.port}: TLS failed (ERR_TLS_CERT_ALTNAME_INVALID): the server's certificate does not name 127.0.0.1`,
    );
  });
});

describe("the legacy flow through nginx: sign (PEM keys), then the manufacturing page", () => {
  // Device keys as the guide's OpenSSL commands make them.
  const edKey = join(root, "device-ed25519.pem");
  const p256Key = join(root, "device-p256r1.pem");
  opensslOk("genpkey", "-algorithm", "ed25519", "-out", edKey);
  opensslOk("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", p256Key);
  const app = toHex(CURVES.ed25519.publicKeyFromPrivate(CURVES.ed25519.randomPrivateKey()));
  const device = ["-g", "-d", "A1TESTDEVTYPE1", "-D", "NGINX-0001", "-a", "ng01", "--ed25519_private_key_file", edKey, "--p256r1_private_key_file", p256Key, "--app_server_public_key", app];
  const signVia = (n: RunningNginx, ...tls: string[]) => ["sign", "-p", "TEST_DAK_NGINX", "-c", `https://127.0.0.1:${n.port}`, "--ca_cert", join(bundle, "ca.pem"), ...tls, ...device];

  test("with the client certificate: signed, and the page built from it verifies", async () => {
    const out = join(root, "signed.json");
    const r = await swtool([...signVia(nginx, "--client_cert", join(bundle, "client.pem"), "--client_key", join(bundle, "client.key")), "-o", out], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const page = join(root, "signed.bin");
    const build = await swtool(["mfg", "build", out, "--output_bin", page, "--output_hex", join(root, "signed.hex")]);
    expect(build.code).toBe(0);
    const decode = await swtool(["mfg", "decode", join(root, "signed.hex")]);
    expect(decode.stdout).toContain("ok     Ed25519 private key: matches DEVICE_PUB");
    expect(decode.stdout).toContain("ok     P-256 chain:");
    expect(decode.code).toBe(0);
  });

  test("without a client certificate, or with another CA's: refused with the reason", async () => {
    const none = await swtool(signVia(nginx), { env });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`refused the request (HTTP 403: ${CLIENT_CERT_REQUIRED})`);
    const other = await swtool(signVia(nginx, "--client_cert", join(intruder, "client.pem"), "--client_key", join(intruder, "client.key")), { env });
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`refused the request (HTTP 403: ${CLIENT_CERT_REJECTED})`);
    const misnamedServer = await swtool(signVia(misnamed, "--client_cert", join(bundle, "client.pem"), "--client_key", join(bundle, "client.key")), { env });
    expect(misnamedServer.code).toBe(1);
    expect(misnamedServer.stderr).toContain("the server's certificate does not name 127.0.0.1");
  });
});
