// Test helpers for the HSM tests: a CA with server and client certificates made by the openssl
// CLI, a mutual-TLS reverse proxy in front of the simulator (as nginx is in the networked
// setup), and a proxy that corrupts responses on the wire.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { opensslOk as ssl } from "../helpers/system.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

export interface TestPkiFiles {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from a CA the proxy does not trust. */
  rogueCert: string;
  rogueKey: string;
  cleanup(): void;
}

export function makeTlsFiles(): TestPkiFiles {
  const dir = scratchDir("hsm-tls");
  const f = (n: string) => join(dir, n);
  const issue = (name: string, cn: string, ca: string, caKey: string, ext?: string) => {
    ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${cn}`);
    const args = ["x509", "-req", "-in", f(`${name}.csr`), "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", f(`${name}.pem`), "-days", "2"];
    if (ext) {
      writeFileSync(f(`${name}.ext`), ext);
      args.push("-extfile", f(`${name}.ext`));
    }
    ssl(...args);
  };
  for (const ca of ["ca", "rogue-ca"]) {
    ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f(`${ca}.key`), "-out", f(`${ca}.pem`), "-days", "2", "-subj", `/CN=swtool test ${ca}`);
  }
  issue("server", "127.0.0.1", f("ca.pem"), f("ca.key"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue("client", "line-pc", f("ca.pem"), f("ca.key"), "extendedKeyUsage=clientAuth\n");
  issue("rogue", "intruder", f("rogue-ca.pem"), f("rogue-ca.key"), "extendedKeyUsage=clientAuth\n");
  return {
    dir,
    ca: f("ca.pem"),
    serverCert: f("server.pem"),
    serverKey: f("server.key"),
    clientCert: f("client.pem"),
    clientKey: f("client.key"),
    rogueCert: f("rogue.pem"),
    rogueKey: f("rogue.key"),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Proxy {
  url: string;
  stop(): Promise<void>;
}

/** An HTTPS reverse proxy that requires a client certificate signed by the test CA. */
export function startMtlsProxy(target: string, files: TestPkiFiles): Proxy {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: {
      cert: readFileSync(files.serverCert, "utf8"),
      key: readFileSync(files.serverKey, "utf8"),
      ca: readFileSync(files.ca, "utf8"),
      requestCert: true,
      rejectUnauthorized: true,
    },
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === "POST" ? await req.arrayBuffer() : undefined;
      return fetch(target + url.pathname, { method: req.method, ...(body ? { body } : {}) });
    },
  });
  return { url: `https://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

/** A plain HTTP proxy that passes `transform` over every /connector/api answer. */
export function startTamperingProxy(target: string, transform: (answer: Uint8Array) => Uint8Array): Proxy {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === "POST" ? await req.arrayBuffer() : undefined;
      const res = await fetch(target + url.pathname, { method: req.method, ...(body ? { body } : {}) });
      if (url.pathname !== "/connector/api") return res;
      return new Response(transform(new Uint8Array(await res.arrayBuffer())));
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
