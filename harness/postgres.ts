// A private PostgreSQL cluster for a test file or a benchmark: initdb in a temporary folder (as the `postgres`
// user when the tests run as root: the server refuses to run as root), a random port on
// 127.0.0.1, its Unix socket inside the folder, fsync off; stopped and removed at the end.
// Debian's `postgresql` package provides the binaries; without them `findPostgres()` is
// undefined and the tests say they were skipped (or fail, with SWTOOL_REQUIRE_POSTGRES=1). With `password`, every login (TCP and the
// socket) needs it (scram-sha-256), as a factory's server does; otherwise logins are trusted.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort } from "./net.ts";

export function findPostgres(root = "/usr/lib/postgresql"): string | undefined {
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0]!, "bin") : undefined;
}

export const SKIP_MESSAGE = "PostgreSQL tests skipped: no initdb under /usr/lib/postgresql (apt-get install postgresql)";
export const REQUIRED_MESSAGE = "SWTOOL_REQUIRE_POSTGRES=1 but there is no initdb under /usr/lib/postgresql: the PostgreSQL tests cannot run (apt-get install postgresql)";

/**
 * The PostgreSQL binaries for a test file, or undefined (said once) to skip its PostgreSQL
 * tests. With SWTOOL_REQUIRE_POSTGRES=1 (CI) a missing PostgreSQL fails the file instead.
 */
export function postgresForTests(env: Record<string, string | undefined> = process.env, root?: string): string | undefined {
  const bin = findPostgres(root);
  if (bin) return bin;
  if (env.SWTOOL_REQUIRE_POSTGRES === "1") throw new Error(REQUIRED_MESSAGE);
  console.warn(SKIP_MESSAGE);
  return undefined;
}

export interface PgCluster {
  url: string;
  port: number;
  dir: string;
  /** A fresh database in the cluster; its URL. */
  createDatabase(name: string): Promise<string>;
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** With `ssl`, the server also speaks TLS with this certificate and key (PEM files); with `password`, user swtool logs in with it. */
export async function startPostgres(bin: string, options: { ssl?: { cert: string; key: string }; password?: string } = {}): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), "swtool-pg-"));
  const asRoot = userInfo().uid === 0;
  let uid = 0;
  let gid = 0;
  if (asRoot) {
    const id = Bun.spawnSync(["id", "-u", "postgres"]);
    const gidOut = Bun.spawnSync(["id", "-g", "postgres"]);
    uid = Number(id.stdout.toString());
    gid = Number(gidOut.stdout.toString());
    chownSync(dir, uid, gid);
  }
  const as = (cmd: string[]) => (asRoot ? ["runuser", "-u", "postgres", "--", ...cmd] : cmd);
  const run = async (cmd: string[]) => {
    const p = Bun.spawn(as(cmd), { stdout: "pipe", stderr: "pipe", cwd: dir });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code !== 0) throw new Error(`${cmd[0]} failed (${code}): ${err || out}`);
  };
  const data = join(dir, "data");
  const auth = ["-A", "trust"];
  if (options.password !== undefined) {
    const pwfile = join(dir, "pwfile");
    writeFileSync(pwfile, options.password + "\n", { mode: 0o600 });
    if (asRoot) chownSync(pwfile, uid, gid);
    auth.splice(0, 2, "-A", "scram-sha-256", `--pwfile=${pwfile}`);
  }
  await run([join(bin, "initdb"), "-D", data, ...auth, "-U", "swtool", "--no-sync", "-E", "UTF8"]);
  if (options.password !== undefined) rmSync(join(dir, "pwfile"));
  const port = await freePort();
  let serverOptions = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c max_connections=200`;
  if (options.ssl) {
    // The server wants its key private and its own.
    for (const [from, name] of [[options.ssl.cert, "server.pem"], [options.ssl.key, "server.key"]] as const) {
      copyFileSync(from, join(dir, name));
      chmodSync(join(dir, name), 0o600);
      if (asRoot) chownSync(join(dir, name), uid, gid);
    }
    serverOptions += ` -c ssl=on -c ssl_cert_file=${join(dir, "server.pem")} -c ssl_key_file=${join(dir, "server.key")}`;
  }
  const start = () => run([join(bin, "pg_ctl"), "-D", data, "-o", serverOptions, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  await start();
  const url = `postgres://swtool@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dir,
    async createDatabase(name: string) {
      const { SQL } = await import("bun");
      const sql = new SQL({ url, ...(options.password !== undefined ? { password: options.password } : {}) });
      await sql.unsafe(`CREATE DATABASE "${name}"`);
      await sql.close();
      return `postgres://swtool@127.0.0.1:${port}/${name}`;
    },
    stop: (mode = "fast") => run([join(bin, "pg_ctl"), "-D", data, "-m", mode, "-w", "stop"]),
    start,
    async destroy() {
      await run([join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
