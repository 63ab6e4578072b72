// What `--ledger` names: a file, or PostgreSQL from a URL and the PG* variables; the password
// from PGPASSWORD or a file, never the URL; TLS verify-full with a CA file or nothing on loopback.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { looksLikeUrl, parseLedgerLocation } from "../../src/ledger/location.ts";
import { tempDir } from "../helpers/temp.ts";

describe("--ledger", () => {
  test("paths stay files, Windows drive letters included; URLs are URLs", () => {
    for (const p of ["swtool.db", "./logs/swtool.db", "C:\\\\lines\\\\swtool.db", "C:/lines/swtool.db", "/var/lib/swtool.db"]) {
      expect(parseLedgerLocation(p)).toEqual({ engine: "sqlite", path: p, display: p });
    }
    expect(looksLikeUrl("postgres://x")).toBe(true);
    expect(looksLikeUrl("postgresql:")).toBe(true);
    expect(looksLikeUrl("sqlite://x.db")).toBe(true);
  });

  test("PG* variables fill what the URL leaves out; PGPASSWORD is the password", () => {
    const env = { PGHOST: "db.factory.lan", PGPORT: "6543", PGUSER: "line", PGDATABASE: "factory", PGPASSWORD: "s3cret", PGSSLMODE: "disable" };
    expect(parseLedgerLocation("postgres://", { env })).toEqual({ engine: "postgres", host: "db.factory.lan", port: 6543, user: "line", database: "factory", password: "s3cret", display: "postgres://line@db.factory.lan:6543/factory" });
    expect(parseLedgerLocation("postgresql://swtool@127.0.0.1/f", { env: {} })).toEqual({ engine: "postgres", host: "127.0.0.1", port: 5432, user: "swtool", database: "f", display: "postgres://swtool@127.0.0.1:5432/f" });
  });

  test("the password from a file (first line), which wins over PGPASSWORD", () => {
    const dir = tempDir("loc");
    writeFileSync(join(dir, "pw"), "from-file\n");
    const password = (l: ReturnType<typeof parseLedgerLocation>) => (l.engine === "postgres" ? l.password : undefined);
    expect(password(parseLedgerLocation("postgres://swtool@127.0.0.1/f", { env: { PGPASSWORD: "env" }, passwordFile: join(dir, "pw") }))).toBe("from-file");
    expect(password(parseLedgerLocation("postgres://swtool@127.0.0.1/f", { env: { SWTOOL_LEDGER_PASSWORD_FILE: join(dir, "pw") } }))).toBe("from-file");
    writeFileSync(join(dir, "empty"), "");
    expect(() => parseLedgerLocation("postgres://swtool@127.0.0.1/f", { env: {}, passwordFile: join(dir, "empty") })).toThrow(/must hold the password on one line/);
  });

  test("TLS: verify-full reads the CA and checks the host name; other modes and unencrypted remote hosts are refused", () => {
    const dir = tempDir("loc");
    writeFileSync(join(dir, "ca.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    const l = parseLedgerLocation(`postgres://swtool@db.factory.lan/f?sslmode=verify-full&sslrootcert=${join(dir, "ca.pem")}`, { env: {} });
    expect(l.engine === "postgres" && l.tls).toEqual({ ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", servername: "db.factory.lan" });
    expect(() => parseLedgerLocation("postgres://swtool@db.factory.lan/f?sslmode=verify-ca", { env: {} })).toThrow("--ledger: sslmode=verify-ca does not verify the server");
    expect(() => parseLedgerLocation("postgres://swtool@db.factory.lan/f", { env: {} })).toThrow("--ledger: the connection to db.factory.lan would not be encrypted");
    expect(parseLedgerLocation("postgres://swtool@db.factory.lan/f?sslmode=disable", { env: {} }).engine).toBe("postgres");
    expect(() => parseLedgerLocation("postgres://swtool@h/f?application_name=x", { env: {} })).toThrow("--ledger: unknown URL parameter application_name");
    expect(() => parseLedgerLocation("postgres://@127.0.0.1/f", { env: {} })).toThrow("--ledger: no database user");
  });
});
