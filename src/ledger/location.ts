// What `--ledger` names: a SQLite file (a path), or a PostgreSQL database
// (`postgres://user@host:port/db` or `postgresql://...`; `postgres://` alone takes everything
// from the PG* environment variables). Any other `scheme://` is refused rather than created as
// a file. The password never comes from the command line (process lists, shell history): it is
// PGPASSWORD or a file (`--ledger-password-file F`, or SWTOOL_LEDGER_PASSWORD_FILE).
// TLS: `sslmode=verify-full` with a CA file (`sslrootcert=` or PGSSLROOTCERT); an unverified
// mode (require, prefer, verify-ca, allow) is refused; a remote host needs an explicit sslmode.
import { readFileSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";

export interface PostgresLocation {
  engine: "postgres";
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  tls?: { ca: string; servername: string };
  /** The URL without any secret, for messages. */
  display: string;
}

export interface SqliteLocation {
  engine: "sqlite";
  path: string;
  display: string;
}

export type LedgerLocation = SqliteLocation | PostgresLocation;

export interface LocationOptions {
  /** File holding the database password (one line). */
  passwordFile?: string;
  env?: Record<string, string | undefined>;
}

/** `scheme://`: a URL, never a file name (a Windows drive `C:\` has one letter and no `//`). */
const URL_LIKE = /^[a-z][a-z0-9+.-]+:\/\//i;

export function looksLikeUrl(value: string): boolean {
  return URL_LIKE.test(value) || /^postgres(ql)?:/i.test(value);
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "[::1]", "localhost"]);

function readPasswordFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the ledger password file ${path}: ${(e as Error).message}`, { advice: "give a readable file holding the database password on one line" });
  }
  const password = text.replace(/\r?\n$/, "");
  if (password === "" || /[\r\n]/.test(password)) throw new UsageError(`the ledger password file ${path} must hold the password on one line`);
  return password;
}

export function parseLedgerLocation(value: string, options: LocationOptions = {}): LedgerLocation {
  if (!looksLikeUrl(value)) return { engine: "sqlite", path: value, display: value };
  const env = options.env ?? process.env;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)![1]!.toLowerCase();
  if (scheme !== "postgres" && scheme !== "postgresql") {
    throw new UsageError(`--ledger ${JSON.stringify(value)}: swtool keeps its ledger in a SQLite file or in PostgreSQL, not ${scheme}:`, {
      advice: "give a file path, or postgres://user@host:port/database",
    });
  }
  let url: URL;
  try {
    url = new URL(value.replace(/^postgres(ql)?:(\/\/)?/i, "postgres://"));
  } catch {
    throw new UsageError(`--ledger ${JSON.stringify(value)} is not a valid PostgreSQL URL`, { advice: "use postgres://user@host:port/database" });
  }
  if (url.password) {
    throw new UsageError("--ledger: the database password must not be on the command line", {
      advice: "remove it from the URL; set PGPASSWORD, or give --ledger-password-file FILE",
    });
  }
  const params = url.searchParams;
  for (const key of params.keys()) {
    if (!["sslmode", "sslrootcert"].includes(key)) throw new UsageError(`--ledger: unknown URL parameter ${key}`, { advice: "swtool understands sslmode=verify-full|disable and sslrootcert=CA_FILE" });
  }
  const host = decodeURIComponent(url.hostname) || env.PGHOST || "127.0.0.1";
  if (host.startsWith("/")) throw new UsageError(`--ledger: PGHOST ${host} is a Unix socket directory; swtool connects over TCP`, { advice: "give the host name or address" });
  const portText = url.port || env.PGPORT || "5432";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`--ledger: port ${portText} is not 1..65535`);
  const user = decodeURIComponent(url.username) || env.PGUSER || "";
  if (!user) throw new UsageError("--ledger: no database user", { advice: "put it in the URL (postgres://USER@host/db) or set PGUSER" });
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || env.PGDATABASE || user;
  const sslmode = params.get("sslmode") ?? env.PGSSLMODE;
  const rootCert = params.get("sslrootcert") ?? env.PGSSLROOTCERT;
  const display = `postgres://${user}@${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}/${database}`;
  const out: PostgresLocation = { engine: "postgres", host, port, user, database, display };
  if (sslmode === "verify-full") {
    if (!rootCert) throw new UsageError("--ledger: sslmode=verify-full needs the CA certificate that signed the server's", { advice: "add sslrootcert=/path/ca.pem to the URL, or set PGSSLROOTCERT" });
    let ca: string;
    try {
      ca = readFileSync(rootCert, "utf8");
    } catch (e) {
      throw new UsageError(`--ledger: cannot read the CA file ${rootCert}: ${(e as Error).message}`);
    }
    if (!ca.includes("-----BEGIN CERTIFICATE-----")) throw new UsageError(`--ledger: ${rootCert} holds no PEM certificate`);
    out.tls = { ca, servername: host.replace(/^\[|\]$/g, "") };
  } else if (sslmode === undefined || sslmode === "") {
    if (!LOOPBACK.has(host)) {
      throw new UsageError(`--ledger: the connection to ${host} would not be encrypted`, {
        advice: "add ?sslmode=verify-full&sslrootcert=CA.pem (the server's certificate is checked), or ?sslmode=disable on a network you trust",
      });
    }
  } else if (sslmode !== "disable") {
    throw new UsageError(`--ledger: sslmode=${sslmode} does not verify the server`, { advice: "use sslmode=verify-full with sslrootcert=CA.pem (or sslmode=disable on a network you trust)" });
  }
  const passwordFile = options.passwordFile ?? env.SWTOOL_LEDGER_PASSWORD_FILE;
  if (passwordFile) out.password = readPasswordFile(passwordFile);
  else if (env.PGPASSWORD) out.password = env.PGPASSWORD;
  return out;
}
