// The generated nginx.conf in a real nginx, in front of a small HTTP server standing in for
// yubihsm-connector: a line PC's client certificate gets through; no certificate, one from
// another CA or a server certificate offered as a client certificate get 403; a client that
// dialled a name the server certificate does not carry refuses the server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLIENT_CERT_REJECTED, CLIENT_CERT_REQUIRED, initAuthority, issueClient } from "../../src/pki/index.ts";
import { httpsRequest, startNginx, type RunningNginx } from "./helpers.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const root = scratchDir("nginx");
const pki = join(root, "pki");
const otherPki = join(root, "other");
let upstream: ReturnType<typeof Bun.serve>;
let nginx: RunningNginx;
const seen: string[] = [];

beforeAll(async () => {
  await initAuthority({ out: pki, serverNames: ["signing.factory.lan", "127.0.0.1"] });
  await issueClient({ caDir: pki, name: "LINEPC-07" });
  await initAuthority({ out: otherPki, serverNames: ["signing.factory.lan"] });
  await issueClient({ caDir: otherPki, name: "INTRUDER" });
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = new Uint8Array(await req.arrayBuffer());
      seen.push(`${req.method} ${new URL(req.url).pathname} ${body.length}`);
      return new Response(`upstream ${req.method} ${new URL(req.url).pathname} ${Buffer.from(body).toString("hex")}`);
    },
  });
  nginx = await startNginx({ conf: join(pki, "nginx.conf"), workDir: join(root, "nginx"), upstreamPort: upstream.port! });
});

afterAll(async () => {
  await nginx?.stop();
  upstream?.stop(true);
  rmSync(root, { recursive: true, force: true });
});

const client = join(pki, "clients", "LINEPC-07");
const intruder = join(otherPki, "clients", "INTRUDER");

describe("nginx with the generated nginx.conf", () => {
  test("a line PC with its client certificate reaches the connector (GET and POST)", async () => {
    const status = await httpsRequest({ port: nginx.port, servername: "signing.factory.lan", ca: join(client, "ca.pem"), cert: join(client, "client.pem"), key: join(client, "client.key"), path: "/connector/status" });
    expect(status).toEqual({ status: 200, body: "upstream GET /connector/status " });
    const api = await httpsRequest({
      port: nginx.port,
      servername: "signing.factory.lan",
      ca: join(client, "ca.pem"),
      cert: join(client, "client.pem"),
      key: join(client, "client.key"),
      path: "/connector/api",
      method: "POST",
      body: new Uint8Array([0x06, 0x00, 0x01, 0x2a]),
    });
    expect(api).toEqual({ status: 200, body: "upstream POST /connector/api 0600012a" });
  });

  test("the server's IP address is a valid name too", async () => {
    const r = await httpsRequest({ port: nginx.port, servername: "127.0.0.1", ca: join(client, "ca.pem"), cert: join(client, "client.pem"), key: join(client, "client.key") });
    expect(r.status).toBe(200);
  });

  test("no client certificate: 403 with the reason, nothing reaches the connector", async () => {
    const before = seen.length;
    const r = await httpsRequest({ port: nginx.port, servername: "signing.factory.lan", ca: join(client, "ca.pem"), path: "/connector/api", method: "POST", body: new Uint8Array([1]) });
    expect(r).toEqual({ status: 403, body: `${CLIENT_CERT_REQUIRED}\n` });
    expect(seen.length).toBe(before);
  });

  test("a client certificate from another CA: 403", async () => {
    const before = seen.length;
    const r = await httpsRequest({ port: nginx.port, servername: "signing.factory.lan", ca: join(client, "ca.pem"), cert: join(intruder, "client.pem"), key: join(intruder, "client.key") });
    expect(r).toEqual({ status: 403, body: `${CLIENT_CERT_REJECTED}\n` });
    expect(seen.length).toBe(before);
  });

  test("the server certificate offered as a client certificate: 403 (not clientAuth)", async () => {
    const r = await httpsRequest({ port: nginx.port, servername: "signing.factory.lan", ca: join(client, "ca.pem"), cert: join(pki, "server.pem"), key: join(pki, "server.key") });
    expect(r).toEqual({ status: 403, body: `${CLIENT_CERT_REJECTED}\n` });
  });

  test("a client that dialled another name refuses the server", async () => {
    const r = await httpsRequest({ port: nginx.port, servername: "wrong.factory.lan", ca: join(client, "ca.pem"), cert: join(client, "client.pem"), key: join(client, "client.key") });
    expect(r).toEqual({ error: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  test("a client trusting another CA refuses the server", async () => {
    const r = await httpsRequest({ port: nginx.port, servername: "signing.factory.lan", ca: join(intruder, "ca.pem"), cert: join(client, "client.pem"), key: join(client, "client.key") });
    expect(r.error).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });
});
