// A factory through the compiled binary: two line-PC processes (`swtool sign --port ...`) with
// `-c A -c B` (two HSM simulators holding different DAKs of one product) and one PostgreSQL
// ledger (a private cluster), the same DSN template: every DSN once across both, each attempt
// naming its station and the HSM that signed it, DAK signatures counted factory-wide.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { toHex } from "../../src/lib/bytes.ts";
import { postgresForTests, startPostgres, type PgCluster } from "../../harness/postgres.ts";
import { deviceFixtures, swtool } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";
import { anotherDak, makeProductPki } from "../../src/sidewalk/pki.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { loadTestChain } from "../../src/signer/hsm/index.ts";

const bin = postgresForTests();

describe.skipIf(!bin)("two line PCs, two HSMs, one PostgreSQL ledger", () => {
  let pg: PgCluster;
  let hsms: LoadedHsm[];
  const fixtures = deviceFixtures();
  beforeAll(async () => {
    pg = await startPostgres(bin!);
    // Two HSMs of one product, each with its own DAK (as Amazon supplies them).
    const product = makeProductPki();
    hsms = await Promise.all([startLoadedHsm("TEST_DAK_FACTORY", { pki: anotherDak(product) }), startLoadedHsm("TEST_DAK_FACTORY", { pki: anotherDak(product) })]);
  }, 120_000);
  afterAll(async () => {
    await fixtures.stopAll();
    for (const h of hsms ?? []) await h.stop();
    await pg?.destroy();
  });

  test("8 devices over two stations: no DSN twice, stations and HSM serials recorded", async () => {
    const url = await pg.createDatabase("factory");
    const migrate = await swtool(["ledger", "migrate", "--ledger", url]);
    expect([migrate.code, migrate.stdout.trim()]).toEqual([0, `ledger ${url}: schema version 0 -> 5`]);
    const station = async (name: string) => {
      const port = await fixtures.fixture();
      const dir = tempDir();
      return swtool(
        [
          "sign", "--port", port, "-p", "TEST_DAK_FACTORY", "-c", hsms[0]!.url, "-c", hsms[1]!.url,
          "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
          "--control_log_dir", dir, "--dsn-template", "FA{seq:5}", "--count", "4", "--ledger", url, "--station", name, "--operator", "amy", "--json",
        ],
        { env: { SWTOOL_HSM_PIN: TEST_PIN } },
      );
    };
    const runs = await Promise.all([station("LINE-1"), station("LINE-2")]);
    for (const r of runs) expect([r.code, r.stdout.trim().split("\n").at(-1)]).toEqual([0, expect.stringContaining('"provisioned":4')]);
    const sql = new SQL({ url });
    const rows = (await sql`SELECT dsn, station, operator, hsm_serial, result FROM attempts ORDER BY id`) as Record<string, string>[];
    expect(rows.length).toBe(8);
    expect(rows.every((r) => r.result === "provisioned" && r.operator === "amy")).toBe(true);
    expect(rows.map((r) => r.dsn).sort()).toEqual(["FA00001", "FA00002", "FA00003", "FA00004", "FA00005", "FA00006", "FA00007", "FA00008"]);
    expect(new Set(rows.map((r) => r.station))).toEqual(new Set(["LINE-1", "LINE-2"]));
    for (const r of rows) for (const serial of r.hsm_serial!.split(",")) expect(serial).toMatch(/^\d{8}$/);
    const [signatures] = await sql`SELECT sum(count)::int AS n FROM dak_signatures`;
    expect(signatures.n).toBe(16);
    await sql.close();
  }, 120_000);
});

// consola draws a warning as "\n WARN  text\n\n" (fancy reporter) or as "[warn] text\n" (basic: where std-env
// sees CI or a test run, which differs between the sources and the compiled binary): one spelling here.
const plainWarnings = (stderr: string) => stderr.replace(/(^|\n)\n WARN  (.*)\n\n/g, "$1[warn] $2\n");

describe("a DSN template on a line PC's own new ledger", () => {
  // The HSM is unreachable: the line's flags and ledger are checked (and the warning given) before it is asked.
  const sign = (dir: string, ...extra: string[]) =>
    swtool(
      ["sign", "--port", "/dev/null", "-p", "TEST_DAK", "-c", "http://127.0.0.1:1", "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY), "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", ...extra],
      { env: { SWTOOL_HSM_PIN: TEST_PIN } },
    );
  const HSM_ERROR = "error: cannot reach the HSM connector at http://127.0.0.1:1: connection refused (nothing listens there)\n";

  test("warns once that it starts at 1, pointing to a shared ledger or --dsn-start; not with --dsn-start, --ledger, or a ledger that has attempts", async () => {
    const dir = tempDir();
    const ledgerPath = join(dir, "swtool.db");
    const message = `the ledger ${ledgerPath} is new, so --dsn-template SN{seq:7} starts at 1: another line PC or a new log folder would hand out the same numbers; share one ledger (--ledger postgres://user@host:port/db) or give each line its own range (--dsn-start N)`;
    const fresh = await sign(dir);
    expect([fresh.code, plainWarnings(fresh.stderr).slice(0, `[warn] ${message}\n${HSM_ERROR}`.length)]).toEqual([1, `[warn] ${message}\n${HSM_ERROR}`]);
    expect(fresh.stderr.split("starts at 1").length).toBe(2);
    for (const r of [await sign(tempDir(), "--dsn-start", "1"), await sign(tempDir(), "--ledger", join(tempDir(), "line.db"))]) expect([r.code, r.stderr.startsWith(HSM_ERROR)]).toEqual([1, true]);
    const ledger = await openLedger(ledgerPath);
    await ledger.recordAttempt({ port: "p", dsn: "SN0000001", smsn: "ab".repeat(32), apid: APID, stage: "test", result: "failed", failedStep: "init" });
    await ledger.close();
    const used = await sign(dir);
    expect([used.code, used.stderr.startsWith(HSM_ERROR)]).toEqual([1, true]);
  }, 60_000);
});

describe("sign --hsm-config (compiled binary)", () => {
  const fixtures = deviceFixtures();
  const sims: HsmSimulator[] = [];
  afterAll(async () => {
    await fixtures.stopAll();
    for (const s of sims) await s.stop();
  });

  test("two HSMs from the config file, one PIN from a file and one from an environment variable: both sign, each device names its HSM", async () => {
    const tag = "TEST_DAK_CONFIG";
    const product = makeProductPki();
    // Each HSM has its own PIN: each must come from its own source.
    const pins = ["pin-from-file-0427", "pin-from-env-0815"];
    for (const pin of pins) {
      const sim = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none" });
      sims.push(sim);
      await loadTestChain({ connector: sim.url, productTag: tag, pin, pki: anotherDak(product) });
    }
    const dir = tempDir();
    writeFileSync(join(dir, "hsm-a.pin"), `${pins[0]}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, "hsms.json"),
      JSON.stringify({ sessions: 2, hsms: [{ connector: sims[0]!.url, name: "HSM-A", pinFile: "hsm-a.pin" }, { connector: sims[1]!.url, name: "HSM-B", pinEnv: "SWTOOL_TEST_HSM_B_PIN" }] }),
    );
    const port = await fixtures.fixture();
    const logs = join(dir, "logs");
    const r = await swtool(
      [
        "sign", "--port", port, "-p", tag, "--hsm-config", join(dir, "hsms.json"), "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
        "--control_log_dir", logs, "--dsn-template", "HC{seq:4}", "--dsn-start", "1", "--count", "4", "--json",
      ],
      { env: { SWTOOL_TEST_HSM_B_PIN: pins[1]!, SWTOOL_HSM_PIN: "" } },
    );
    const serials = sims.map((s) => String(s.device.state.serial));
    expect([r.code, r.stdout.trim().split("\n").at(-1)]).toEqual([0, expect.stringContaining('"provisioned":4')]);
    expect(r.stderr).toContain(`2 HSMs for ${tag}: HSM-A (serial ${serials[0]}), HSM-B (serial ${serials[1]})`);
    for (const pin of pins) expect(r.stderr + r.stdout).not.toContain(pin);
    const ledger = await openLedger(join(logs, "swtool.db"));
    const rows = await ledger.list();
    await ledger.close();
    expect(rows.map((row) => [row.dsn, row.result])).toEqual(["HC0001", "HC0002", "HC0003", "HC0004"].map((d) => [d, "provisioned"]));
    // Both HSMs signed (a device's two signatures may come from both).
    expect(new Set(rows.flatMap((row) => row.hsmSerial!.split(",")))).toEqual(new Set(serials));
  }, 60_000);
});
