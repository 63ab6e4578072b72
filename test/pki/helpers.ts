// Test helpers for the signing-server PKI: openssl as the independent checker, a real nginx
// started on a free 127.0.0.1 port with the generated nginx.conf, and an HTTPS client that
// presents (or not) a client certificate and checks the server name like a line PC does.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { connect, createServer, isIP } from "node:net";
import { join } from "node:path";
export { freePort, openssl } from "../helpers/system.ts";
import { freePort } from "../helpers/system.ts";

export function run(cmd: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", ...(stdin === undefined ? {} : { stdin: new TextEncoder().encode(stdin) }) });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

async function waitForPort(port: number, timeoutMs = 10000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

export const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => Bun.file(p).size > 0) ?? "nginx";

export interface RunningNginx {
  port: number;
  stop(): Promise<void>;
  errorLog(): string;
}

/**
 * Starts nginx with the nginx.conf `swtool pki init` wrote, changed only where a test must:
 * the listen address (a free 127.0.0.1 port), the upstream, and log/temp paths in `workDir`.
 */
export async function startNginx(o: { conf: string; workDir: string; upstreamPort: number; replace?: [RegExp | string, string][] }): Promise<RunningNginx> {
  const port = await freePort();
  let conf = readFileSync(o.conf, "utf8");
  const edits: [RegExp | string, string][] = [
    [/listen \d+ ssl;/, `listen 127.0.0.1:${port} ssl;`],
    [/proxy_pass http:\/\/[^;]+;/, `proxy_pass http://127.0.0.1:${o.upstreamPort};`],
    [/^http \{$/m, `http {\n    access_log ${o.workDir}/access.log;\n    client_body_temp_path ${o.workDir}/tmp/body;\n    proxy_temp_path ${o.workDir}/tmp/proxy;\n    fastcgi_temp_path ${o.workDir}/tmp/fastcgi;\n    uwsgi_temp_path ${o.workDir}/tmp/uwsgi;\n    scgi_temp_path ${o.workDir}/tmp/scgi;`],
    ...(o.replace ?? []),
  ];
  for (const [from, to] of edits) {
    const before = conf;
    conf = conf.replace(from, to);
    if (conf === before) throw new Error(`nginx.conf: ${String(from)} not found`);
  }
  mkdirSync(join(o.workDir, "tmp"), { recursive: true });
  const confPath = join(o.workDir, "nginx-test.conf");
  writeFileSync(confPath, conf);
  const errorLog = join(o.workDir, "error.log");
  const proc = Bun.spawn([NGINX, "-p", o.workDir, "-c", confPath, "-g", `daemon off; pid ${o.workDir}/nginx.pid; error_log ${errorLog} info;`], {
    stdout: "ignore",
    stderr: "pipe",
  });
  try {
    await Promise.race([
      waitForPort(port),
      proc.exited.then(async (code) => {
        throw new Error(`nginx exited with ${code}: ${await new Response(proc.stderr).text()}`);
      }),
    ]);
  } catch (e) {
    proc.kill();
    throw e;
  }
  return {
    port,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
    errorLog: () => readFileSync(errorLog, "utf8"),
  };
}

export interface HttpsResult {
  status?: number;
  body?: string;
  error?: string;
}

/** One HTTPS request to 127.0.0.1:port with SNI and name check for `servername`. */
export function httpsRequest(o: {
  port: number;
  servername: string;
  ca: string;
  cert?: string;
  key?: string;
  path?: string;
  method?: string;
  body?: Uint8Array;
}): Promise<HttpsResult> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: o.port,
        // TLS forbids an IP address as SNI; the name check then uses host (127.0.0.1).
        ...(isIP(o.servername) ? {} : { servername: o.servername }),
        path: o.path ?? "/",
        method: o.method ?? "GET",
        ca: readFileSync(o.ca),
        ...(o.cert ? { cert: readFileSync(o.cert) } : {}),
        ...(o.key ? { key: readFileSync(o.key) } : {}),
        // The server certificate is checked against `servername`, as for a client that dialled it.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    if (o.body) req.write(o.body);
    req.end();
  });
}
