// The factory ledger on a real PostgreSQL (a private cluster this file starts and stops):
// the same semantics as the SQLite ledger, held across processes by the database itself.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import { dsnFile } from "../../src/device/dsn.ts";
import { LedgerConflictError, openLedger, type Ledger } from "../../src/ledger/ledger.ts";
import { parseLedgerLocation, type PostgresLocation } from "../../src/ledger/location.ts";
import { openPostgresLedger } from "../../src/ledger/postgres.ts";
import { processStartTime } from "../../src/ledger/process-start.ts";
import { hostname } from "node:os";
import { postgresForTests, REQUIRED_MESSAGE, SKIP_MESSAGE, startPostgres, type PgCluster } from "../../harness/postgres.ts";
import { REPO } from "../helpers/vectors.ts";
import { swtool } from "../helpers/cli.ts";
import { makeEntry, makeTestLine, writeLogFile } from "../controllog/fixtures.ts";
import { parseControlLog } from "../../src/controllog/format.ts";
import { readFileSync } from "node:fs";
import { runStation, tempDir } from "../device/station.ts";
import { writeFileSync } from "node:fs";
import { dsnTemplate } from "../../src/device/dsn.ts";

const bin = postgresForTests();

const smsnOf = (dsn: string) => new Bun.CryptoHasher("sha256").update(dsn).digest("hex");
const attempt = (dsn: string, port = "/dev/ttyUSB0") => ({ port, dsn, smsn: smsnOf(dsn), apid: "pd25", stage: "test" });

describe("without PostgreSQL", () => {
  test("the tests skip, saying so; with SWTOOL_REQUIRE_POSTGRES=1 (CI) they fail instead", () => {
    const warn = console.warn;
    const said: unknown[] = [];
    console.warn = (...a: unknown[]) => void said.push(...a);
    try {
      expect(postgresForTests({}, "/nonexistent/postgresql")).toBeUndefined();
    } finally {
      console.warn = warn;
    }
    expect(said).toEqual([SKIP_MESSAGE]);
    expect(() => postgresForTests({ SWTOOL_REQUIRE_POSTGRES: "1" }, "/nonexistent/postgresql")).toThrow(REQUIRED_MESSAGE);
  });
});

describe.skipIf(!bin)("PostgreSQL ledger", () => {
  let pg: PgCluster;
  let n = 0;
  const freshDb = async () => pg.createDatabase(`t${++n}`);
  beforeAll(async () => {
    pg = await startPostgres(bin!);
  }, 120_000);
  afterAll(async () => {
    await pg?.destroy();
  });

  test("attempts, refusals, counters, control logs and uploads as on SQLite; schema version 5", async () => {
    const ledger = await openLedger(await freshDb(), { station: "LINE-1", operator: "amy", workOrder: "WO-7" });
    expect(ledger.engine).toBe("postgres");
    expect(await ledger.schemaVersion()).toEqual({ database: 5, current: 5, before: 0 });
    const a = await ledger.beginAttempt({ ...attempt("SN1"), time: new Date("2024-05-01T08:00:00Z") });
    await ledger.finishAttempt(a, { result: "failed", failedStep: "store", error: "store: ERROR -31", errorCode: -31 });
    const b = await ledger.beginAttempt({ ...attempt("SN2"), hsmSerial: "123", dak: "TEST/ed25519/01" });
    await ledger.finishAttempt(b, { result: "provisioned", controlLog: "/logs/C_1.txt", hsmSerial: "456" });
    expect((await ledger.list()).map((r) => [r.dsn, r.result, r.station, r.operator, r.workOrder])).toEqual([
      ["SN1", "failed", "LINE-1", "amy", "WO-7"],
      ["SN2", "provisioned", "LINE-1", "amy", "WO-7"],
    ]);
    expect(await ledger.isProvisioned({ smsn: smsnOf("SN2").toUpperCase() })).toMatchObject({ id: b, hsmSerial: "456", controlLog: "/logs/C_1.txt" });
    expect(await ledger.isProvisioned({ dsn: "SN1" })).toBeUndefined();
    expect((await ledger.list({ status: "failed" }))[0]).toMatchObject({ dsn: "SN1", errorCode: -31 });
    await expect(ledger.list({ status: "done" as never })).rejects.toThrow(/unknown status/);
    // A failed attempt lets go of its DSN; a provisioned one keeps it.
    await ledger.finishAttempt(await ledger.beginAttempt(attempt("SN1")), { result: "provisioned", controlLog: "/logs/C_2.txt" });
    await expect(ledger.beginAttempt(attempt("SN2"))).rejects.toBeInstanceOf(LedgerConflictError);
    // --allow-reprovision takes it over; the earlier attempt stays provisioned in the history.
    const again = await ledger.beginAttempt({ ...attempt("SN2"), reprovision: true });
    expect((await ledger.holder({ dsn: "SN2" }))?.id).toBe(again);
    expect(await ledger.addSignatures("D", 2)).toBe(2);
    expect(await ledger.addSignatures("D")).toBe(3);
    await ledger.recordControlLog("/l/a.txt", "AA".repeat(32));
    await ledger.recordControlLog("/l/a.txt", "AA".repeat(32));
    await ledger.markLogsConsolidated([{ smsn: "aa".repeat(32), path: "/other/a.txt" }, { smsn: "bb".repeat(32), path: "/l/b.txt" }], "/l/batch1.txt");
    expect(await ledger.devicesIn("/l/batch1.txt")).toEqual(["aa".repeat(32), "bb".repeat(32)]);
    expect(await ledger.logConsolidatedInto("AA".repeat(32), "/x/a.txt")).toBe("/l/batch1.txt");
    expect([...(await ledger.consolidatedLogKeys())].sort()).toEqual([`${"aa".repeat(32)}\ta.txt`, `${"bb".repeat(32)}\tb.txt`]);
    expect(await ledger.pendingControlLogs()).toEqual([]);
    await ledger.recordUpload({ file: "/l/batch1.txt", target: "u@sftp", remotePath: "/in/batch1.txt" });
    expect(await ledger.uploads({ file: "/l/batch1.txt" })).toMatchObject([{ target: "u@sftp", remotePath: "/in/batch1.txt" }]);
    await ledger.close();
  });

  test("three station processes take 50 DSNs each from one template, interleaved: 150 numbers, none twice", async () => {
    const url = await freshDb();
    // Migrate once first so the three start on an existing schema (they would also serialise on the advisory lock).
    await (await openLedger(url)).close();
    const script = (station: string) => `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      import { dsnTemplate } from ${JSON.stringify(join(REPO, "src/device/dsn.ts"))};
      const ledger = await openLedger(${JSON.stringify(url)}, { station: ${JSON.stringify(station)} });
      const src = dsnTemplate("SN{seq:7}", 1, ledger);
      const taken = [];
      for (let i = 0; i < 50; i++) {
        const dsn = await src.next();
        const smsn = new Bun.CryptoHasher("sha256").update(dsn).digest("hex");
        const id = await ledger.beginAttempt({ port: "p", dsn, smsn, apid: "pd25", stage: "test" });
        await ledger.finishAttempt(id, { result: "provisioned", controlLog: "/l/" + dsn });
        taken.push(dsn);
      }
      await ledger.close();
      console.log(JSON.stringify(taken));
    `;
    const children = ["LINE-1", "LINE-2", "LINE-3"].map((s) => Bun.spawn([process.execPath, "-e", script(s)], { stdout: "pipe", stderr: "pipe", cwd: REPO }));
    const outputs = await Promise.all(children.map(async (c) => ({ out: await new Response(c.stdout).text(), err: await new Response(c.stderr).text(), code: await c.exited })));
    for (const o of outputs) expect(o.err + String(o.code)).toBe("0");
    const lists = outputs.map((o) => JSON.parse(o.out) as string[]);
    const all = lists.flat();
    expect(all.length).toBe(150);
    expect(new Set(all).size).toBe(150);
    expect([...all].sort()).toEqual(Array.from({ length: 150 }, (_, i) => `SN${String(i + 1).padStart(7, "0")}`));
    // Interleaved: no station got one contiguous block.
    for (const list of lists) expect(Number(list[49]!.slice(2)) - Number(list[0]!.slice(2))).toBeGreaterThan(49);
    const ledger = await openLedger(url);
    const rows = await ledger.list({ status: "provisioned" });
    expect(rows.length).toBe(150);
    expect(new Set(rows.map((r) => r.station))).toEqual(new Set(["LINE-1", "LINE-2", "LINE-3"]));
    await ledger.close();
  }, 60_000);

  test("kill -9 during allocation: no number the killed process saw is handed out again", async () => {
    const url = await freshDb();
    await (await openLedger(url)).close();
    const script = `
      import { openLedger } from ${JSON.stringify(join(REPO, "src/ledger/ledger.ts"))};
      const ledger = await openLedger(${JSON.stringify(url)});
      for (;;) process.stdout.write((await ledger.nextSequence("SN{seq:7}", 1)) + "\\n");
    `;
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", cwd: REPO });
    const reader = child.stdout.getReader();
    let text = "";
    while (text.split("\n").length < 40) text += new TextDecoder().decode((await reader.read()).value);
    child.kill("SIGKILL");
    await child.exited;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const seen = text.split("\n").filter((l) => /^\d+$/.test(l)).map(Number);
    const ledger = await openLedger(url);
    const next = await ledger.nextSequence("SN{seq:7}", 1);
    expect(next).toBeGreaterThan(Math.max(...seen));
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1));
    await ledger.close();
  }, 30_000);

  test("two stations race for the same DSN file entry: one holds it, the other is told who has it and takes the next", async () => {
    const url = await freshDb();
    const dir = tempDir();
    writeFileSync(join(dir, "dsns.txt"), "A1\nA2\n");
    const [one, two] = await Promise.all([openLedger(url, { station: "LINE-1" }), openLedger(url, { station: "LINE-2" })]);
    const [s1, s2] = [dsnFile(join(dir, "dsns.txt"), one), dsnFile(join(dir, "dsns.txt"), two)];
    const [d1, d2] = await Promise.all([s1.next(), s2.next()]);
    expect([d1, d2]).toEqual(["A1", "A1"]);
    const results = await Promise.allSettled([one.beginAttempt(attempt(d1!)), two.beginAttempt(attempt(d2!, "/dev/ttyUSB1"))]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const lost = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(LedgerConflictError);
    expect((lost.reason as LedgerConflictError).key).toBe("dsn");
    expect((lost.reason as Error).message).toMatch(/^DSN A1 is in progress on LINE-[12] \(attempt \d+, port \/dev\/ttyUSB[01]\)$/);
    const loser = results[0]!.status === "rejected" ? s1 : s2;
    expect(await loser.next()).toBe("A2");
    await Promise.all([one.close(), two.close()]);
  });

  test("the SMSN unique constraint holds, even for rows written around swtool", async () => {
    const url = await freshDb();
    const ledger = await openLedger(url);
    await ledger.beginAttempt({ ...attempt("SN1"), smsn: "cd".repeat(32) });
    const err = await ledger.beginAttempt({ ...attempt("SN2"), smsn: "cd".repeat(32) }).catch((e) => e);
    expect(err).toBeInstanceOf(LedgerConflictError);
    expect((err as LedgerConflictError).key).toBe("smsn");
    const sql = new SQL({ url });
    const raw = await sql`INSERT INTO attempts (started_at, port, dsn, smsn, apid, stage, result, claimed) VALUES ('t', 'p', 'SN3', ${"cd".repeat(32)}, 'pd25', 'test', 'in-progress', 1)`.catch((e) => e);
    expect(raw.errno).toBe("23505");
    expect(raw.constraint).toBe("attempts_smsn_claim");
    await sql.close();
    await ledger.close();
  });

  test("crash recovery: an in-progress attempt whose pid now belongs to another live process is an orphan; the live station's and another station's are not", async () => {
    const url = await freshDb();
    const where = parseLedgerLocation(url) as PostgresLocation;
    const other = Bun.spawn(["sleep", "30"]);
    try {
      const start = processStartTime(other.pid);
      expect(start).toMatch(/^[0-9a-f-]{36}\/\d+$/);
      const as = (station: string, pidStart: string) => openPostgresLedger(where, { host: hostname(), pid: other.pid, station, pidStart });
      // Written by the process that runs now (same pid, same start): not an orphan.
      const live = await as(hostname(), start!);
      await live.beginAttempt({ ...attempt("LIVE"), smsn: "11".repeat(32) });
      // Written by an earlier process that had the same pid (another start time): an orphan.
      const reused = await as(hostname(), "00000000-0000-0000-0000-000000000000/1");
      await reused.beginAttempt({ ...attempt("REUSED"), smsn: "22".repeat(32) });
      // Another station on this host: its own recovery, not this station's.
      const elsewhere = await as("LINE-2", "00000000-0000-0000-0000-000000000000/1");
      await elsewhere.beginAttempt({ ...attempt("LINE2"), smsn: "33".repeat(32) });
      const ledger = await openLedger(url);
      expect((await ledger.orphanedAttempts()).map((a) => a.dsn)).toEqual(["REUSED"]);
      for (const l of [live, reused, elsewhere, ledger]) await l.close();
    } finally {
      other.kill();
    }
  });

  test("a URL-looking --ledger that is not PostgreSQL is refused, never created as a file; the password is never taken from the URL", async () => {
    await expect(openLedger("mysql://u@h/db")).rejects.toThrow(/not mysql:/);
    await expect(openLedger("postgres://u:secret@127.0.0.1/db")).rejects.toThrow(/password must not be on the command line/);
    await expect(openLedger("postgres://u@db.factory.lan/db")).rejects.toThrow(/would not be encrypted/);
    await expect(openLedger("postgres://u@db.factory.lan/db?sslmode=require")).rejects.toThrow(/does not verify the server/);
    await expect(openLedger("postgres://u@db.factory.lan/db?sslmode=verify-full")).rejects.toThrow(/needs the CA certificate/);
  });

  test("loss of the database mid-run: the line pauses, resumes when it is back, and nothing is mislabelled", async () => {
    const url = await freshDb();
    const ledger = await openLedger(url, { station: "LINE-1" });
    let stopped = false;
    let restarted: Promise<void> | undefined;
    // Board swaps of 1 s: the database is down (stop takes a moment, then 2.5 s) while the
    // remaining boards start, however slowly pg_ctl stops on a loaded machine.
    const run = await runStation(
      { transport: "pty", fixtures: 2, count: 8, swapMs: 1000 },
      {
        ledger,
        dsnSource: dsnTemplate("PG{seq:5}", 1, ledger),
        count: 8,
        onEvent: (e) => {
          if (e.type === "device-done" && e.provisioned === 2 && !stopped) {
            stopped = true;
            restarted = (async () => {
              await pg.stop("fast");
              await Bun.sleep(2500);
              await pg.start();
            })();
          }
        },
      },
    );
    await restarted;
    const warnings = run.events.filter((e) => e.type === "warning").map((e) => (e as { message: string }).message);
    expect(warnings.some((m) => /unavailable .*line paused/.test(m))).toBe(true);
    expect(warnings.some((m) => /available again after .* line resumes/.test(m))).toBe(true);
    expect(run.summary).toMatchObject({ provisioned: 8, failed: 0, refused: 0 });
    const rows = await ledger.list();
    expect(rows.map((r) => r.result)).toEqual(Array(8).fill("provisioned"));
    expect(new Set(rows.map((r) => r.dsn)).size).toBe(8);
    await ledger.close();
  }, 90_000);

  test("end of shift from the factory ledger: consolidate --new-only of two line PCs' logs, marks in one transaction, import-csv", async () => {
    const url = await freshDb();
    const line = makeTestLine();
    const entries = [];
    for (let i = 0; i < 3; i++) entries.push(await makeEntry(line));
    // Two line PCs wrote logs in their own folders and recorded them (and their attempts) in the one ledger.
    const [pc1, pc2] = [tempDir(), tempDir()];
    const logs = [writeLogFile(pc1, "C_CONTROL_LOG_20261121000001.txt", [entries[0]!]), writeLogFile(pc2, "C_CONTROL_LOG_20261121000001.txt", [entries[1]!])];
    const ledger = await openLedger(url, { station: "LINE-1" });
    for (const [i, path] of logs.entries()) {
      await ledger.recordAttempt({ ...attempt(`SN${i}`), smsn: entries[i]!.serialNumber, result: "provisioned", controlLog: path });
      await ledger.recordControlLog(path, entries[i]!.serialNumber);
    }
    const cwd = tempDir();
    const first = await swtool(["consolidate", pc1, pc2, "--new-only", "--ledger", url, "-o", join(cwd, "shift1.txt")], { cwd });
    expect([first.code, first.stderr]).toEqual([0, expect.stringContaining(`devices recorded as in ${join(cwd, "shift1.txt")}`)]);
    writeLogFile(pc2, "C_CONTROL_LOG_20261121000002.txt", [entries[2]!]);
    const second = await swtool(["consolidate", pc1, pc2, "--new-only", "--ledger", url, "-o", join(cwd, "shift2.txt")], { cwd });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain("2 entries left out: already consolidated (ledger)");
    expect(parseControlLog(readFileSync(join(cwd, "shift2.txt"), "utf8"))).toEqual([entries[2]!]);
    expect(await ledger.devicesIn(join(cwd, "shift1.txt"))).toEqual([entries[0]!.serialNumber, entries[1]!.serialNumber].sort());
    expect(await ledger.devicesIn(join(cwd, "shift2.txt"))).toEqual([entries[2]!.serialNumber]);
    const csv = await swtool(["import-csv", "--from", url, "-o", join(cwd, "devices.csv")], { cwd });
    expect(csv.code).toBe(0);
    expect(readFileSync(join(cwd, "devices.csv"), "utf8").trim().split(/\r?\n/).slice(1).sort()).toEqual([entries[0]!.serialNumber, entries[1]!.serialNumber].sort());
    await ledger.close();
  }, 60_000);

  test("password login (scram-sha-256): PGPASSWORD or --ledger-password-file; a wrong or missing password is one line that never shows it", async () => {
    const secret = "Ledger-Pass-4711";
    const server = await startPostgres(bin!, { password: secret });
    try {
      const url = await server.createDatabase("pw");
      const dir = tempDir();
      const file = join(dir, "ledger-password");
      writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      const byEnv = await swtool(["ledger", "migrate", "--ledger", url], { env: { PGPASSWORD: secret } });
      expect([byEnv.code, byEnv.stdout, byEnv.stderr]).toEqual([0, `ledger ${url}: schema version 0 -> 5\n`, ""]);
      const byFile = await swtool(["ledger", "--ledger", url, "--ledger-password-file", file], { env: { PGPASSWORD: "" } });
      expect([byFile.code, byFile.stdout, byFile.stderr]).toEqual([0, "0 attempts\n", ""]);
      const advice = "  fix: check that the database server runs and is reachable, the user, database, password (PGPASSWORD or --ledger-password-file) and TLS settings\n";
      const wrong = await swtool(["ledger", "--ledger", url], { env: { PGPASSWORD: "Wrong-Pass-0815" } });
      expect([wrong.code, wrong.stdout, wrong.stderr]).toEqual([1, "", `error: cannot open the ledger ${url}: password authentication failed for user "swtool"\n${advice}`]);
      const missing = await swtool(["ledger", "--ledger", url], { env: { PGPASSWORD: "" } });
      expect([missing.code, missing.stderr.split("\n").length, missing.stderr.startsWith(`error: cannot open the ledger ${url}: `)]).toEqual([1, 3, true]);
      for (const r of [wrong, missing]) expect([r.stderr.includes("Wrong-Pass-0815"), r.stderr.includes(secret)]).toEqual([false, false]);
    } finally {
      await server.destroy();
    }
  }, 60_000);

  test("TLS: sslmode=verify-full with the CA file connects encrypted; a server the CA did not sign is refused", async () => {
    const dir = tempDir();
    const made = await swtool(["pki", "init", "--out", join(dir, "db"), "--server-name", "127.0.0.1"]);
    expect(made.code).toBe(0);
    await swtool(["pki", "init", "--out", join(dir, "other"), "--server-name", "127.0.0.1"]);
    const tls = await startPostgres(bin!, { ssl: { cert: join(dir, "db", "server.pem"), key: join(dir, "db", "server.key") } });
    try {
      const base = await tls.createDatabase("tls");
      const ledger = await openLedger(`${base}?sslmode=verify-full&sslrootcert=${join(dir, "db", "ca.pem")}`);
      expect(ledger.path).toBe(`postgres://swtool@127.0.0.1:${tls.port}/tls`);
      const sql = (ledger as unknown as { sql: SQL }).sql;
      const [row] = await sql`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
      expect(row.ssl).toBe(true);
      await ledger.close();
      await expect(openLedger(`${base}?sslmode=verify-full&sslrootcert=${join(dir, "other", "ca.pem")}`)).rejects.toThrow(/^cannot open the ledger postgres:\/\/swtool@127\.0\.0\.1:\d+\/tls: /);
    } finally {
      await tls.destroy();
    }
  }, 60_000);

  test("TLS: a server certificate for another host name is refused, even from the right CA", async () => {
    const dir = tempDir();
    expect((await swtool(["pki", "init", "--out", join(dir, "db"), "--server-name", "db.factory.lan"])).code).toBe(0);
    const tls = await startPostgres(bin!, { ssl: { cert: join(dir, "db", "server.pem"), key: join(dir, "db", "server.key") } });
    try {
      const base = await tls.createDatabase("tls");
      const err = await openLedger(`${base}?sslmode=verify-full&sslrootcert=${join(dir, "db", "ca.pem")}`).catch((e) => e);
      expect([err.message, err.advice]).toEqual([
        `cannot open the ledger postgres://swtool@127.0.0.1:${tls.port}/tls: the database server's certificate is not issued for 127.0.0.1`,
        "connect by the host name the server's certificate names, or have its certificate issued for this name (sslmode=verify-full checks both)",
      ]);
    } finally {
      await tls.destroy();
    }
  }, 60_000);

  test("ledger import: two line PCs' SQLite ledgers into the factory ledger; a line then continues the template with no number twice; importing again changes nothing; a device held differently is refused", async () => {
    const url = await freshDb();
    // What a line writes: numbers from the template, attempts, 2 signatures per board, control logs, a consolidation.
    const line = async (path: string, station: string, start: number, boards: { provisioned: boolean }[]) => {
      const ledger = await openLedger(path, { station });
      const source = dsnTemplate("SN{seq:7}", start, ledger);
      for (const b of boards) {
        const dsn = (await source.next())!;
        const id = await ledger.beginAttempt(attempt(dsn));
        const log = `/${station}/C_${dsn}.txt`;
        await ledger.finishAttempt(id, b.provisioned ? { result: "provisioned", controlLog: log, hsmSerial: "7550001", dak: "DAK-A" } : { result: "failed", failedStep: "store", error: "store: ERROR -31" });
        await ledger.addSignatures("DAK-A", 2);
        if (b.provisioned) await ledger.recordControlLog(log, smsnOf(dsn));
      }
      return ledger;
    };
    const [dir1, dir2] = [tempDir(), tempDir()];
    const pc1 = await line(join(dir1, "swtool.db"), "PC-1", 1, [{ provisioned: true }, { provisioned: true }, { provisioned: true }, { provisioned: false }]);
    await pc1.markConsolidated([`/PC-1/C_SN0000001.txt`, `/PC-1/C_SN0000002.txt`], "/PC-1/shift1.txt");
    await pc1.close();
    (await line(join(dir2, "swtool.db"), "PC-2", 100, [{ provisioned: true }, { provisioned: true }])).close();

    const one = await swtool(["ledger", "import", "--from", join(dir1, "swtool.db"), "--ledger", url]);
    expect([one.code, one.stdout, one.stderr]).toEqual([0, `imported ${join(dir1, "swtool.db")} into ${url}: 4 attempts (0 already imported), 1 DSN counters raised, 8 DAK signatures added, 3 control logs\n`, ""]);
    const two = await swtool(["ledger", "import", "--from", join(dir2, "swtool.db"), "--ledger", url]);
    expect([two.code, two.stdout]).toEqual([0, `imported ${join(dir2, "swtool.db")} into ${url}: 2 attempts (0 already imported), 1 DSN counters raised, 4 DAK signatures added, 2 control logs\n`]);

    const factory = await openLedger(url, { station: "LINE-9" });
    const before = await factory.snapshot();
    expect(before.attempts.map((a) => [a.dsn, a.result, a.station, a.claimed])).toEqual([
      ["SN0000001", "provisioned", "PC-1", true],
      ["SN0000002", "provisioned", "PC-1", true],
      ["SN0000003", "provisioned", "PC-1", true],
      ["SN0000004", "failed", "PC-1", false],
      ["SN0000100", "provisioned", "PC-2", true],
      ["SN0000101", "provisioned", "PC-2", true],
    ]);
    expect(before.sequences).toEqual([{ template: "SN{seq:7}", next: 102 }]);
    expect(await factory.signatureCount("DAK-A")).toBe(12);
    expect(await factory.devicesIn("/PC-1/shift1.txt")).toEqual([smsnOf("SN0000001"), smsnOf("SN0000002")].sort());
    expect((await factory.pendingControlLogs()).map((c) => c.path)).toEqual(["/PC-1/C_SN0000003.txt", "/PC-2/C_SN0000100.txt", "/PC-2/C_SN0000101.txt"]);
    expect(await factory.isProvisioned({ dsn: "SN0000002" })).toMatchObject({ station: "PC-1", hsmSerial: "7550001", controlLog: "/PC-1/C_SN0000002.txt" });

    // The same file again (and PC-2's again): nothing changes.
    const again = await swtool(["ledger", "import", "--from", join(dir1, "swtool.db"), "--ledger", url]);
    expect([again.code, again.stdout]).toEqual([0, `imported ${join(dir1, "swtool.db")} into ${url}: 0 attempts (4 already imported), 0 DSN counters raised, 0 DAK signatures added, 0 control logs\n`]);
    expect((await swtool(["ledger", "import", "--from", join(dir2, "swtool.db"), "--ledger", url])).code).toBe(0);
    expect(await factory.snapshot()).toEqual(before);

    // PC-1 went on signing before it moved: a later import adds only what it signed since.
    const later = await openLedger(join(dir1, "swtool.db"), { station: "PC-1" });
    await later.addSignatures("DAK-A", 2);
    await later.close();
    expect((await swtool(["ledger", "import", "--from", join(dir1, "swtool.db"), "--ledger", url])).stdout).toContain(": 0 attempts (4 already imported), 0 DSN counters raised, 2 DAK signatures added, 0 control logs");
    expect(await factory.signatureCount("DAK-A")).toBe(14);

    // A line on the factory ledger continues the template, twice: no number of either PC again.
    const taken: string[] = [];
    for (const _ of [1, 2]) {
      const run = await runStation({ transport: "pty", fixtures: 1, count: 2 }, { ledger: factory, dsnSource: dsnTemplate("SN{seq:7}", 1, factory), count: 2 });
      expect(run.summary).toMatchObject({ provisioned: 2, failed: 0, refused: 0 });
      taken.push(...(await factory.list({ status: "provisioned" })).filter((a) => a.station === "LINE-9").map((a) => a.dsn));
    }
    expect([...new Set(taken)]).toEqual(["SN0000102", "SN0000103", "SN0000104", "SN0000105"]);

    // A third PC provisioned SN0000002's SMSN under another DSN: refused in one line naming both, nothing imported.
    const dir3 = tempDir();
    const pc3 = await openLedger(join(dir3, "swtool.db"), { station: "PC-3" });
    await pc3.finishAttempt(await pc3.beginAttempt({ ...attempt("SN0000999"), smsn: smsnOf("SN0000002") }), { result: "provisioned", controlLog: "/PC-3/C.txt" });
    await pc3.close();
    const count = (await factory.list()).length;
    const refused = await swtool(["ledger", "import", "--from", join(dir3, "swtool.db"), "--ledger", url]);
    expect([refused.code, refused.stderr.split("\n")[0]]).toEqual([
      1,
      `error: ledger import refused: SMSN ${smsnOf("SN0000002")} is provisioned with DSN SN0000002 in ${url} (attempt 2, PC-1) and provisioned with DSN SN0000999 in ${join(dir3, "swtool.db")} (attempt 1, PC-3)`,
    ]);
    expect((await factory.list()).length).toBe(count);
    await factory.close();
  }, 120_000);
});
