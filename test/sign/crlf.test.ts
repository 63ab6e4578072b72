// Input files written on Windows (CRLF line endings) read as their LF twins, on Linux through
// the compiled binary: the batch CSV, PEM key files, the PIN file, the mfg config YAML and the
// signing output JSON (the DSN list: test/ledger/ledger.test.ts; all of them under Wine:
// test/windows/).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { computeSmsn, toHex } from "../../src/sidewalk/index.ts";
import { swtool } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY_HEX, expectedBin, input } from "../mfg/fixtures.ts";

let hsm: LoadedHsm;
let dir: string;
beforeAll(async () => {
  hsm = await startLoadedHsm("TEST_DAK_CRLF");
  dir = mkdtempSync(join(tmpdir(), "swtool-crlf-"));
});
afterAll(() => hsm.stop());

const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");
const smsnOf = (dsn: string) => toHex(computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" }));

describe("CRLF input files", () => {
  test("batch CSV, PEM key files and the PIN file with CRLF: every row signed", async () => {
    const keys = join(dir, "keys");
    expect((await swtool(["keygen", "--out-dir", keys, "--count", "2"])).code).toBe(0);
    for (const f of readdirSync(keys)) writeFileSync(join(keys, f), crlf(readFileSync(join(keys, f), "utf8")));
    const k = (i: number, c: string) => join(keys, `device-${i}_${c}.pem`);
    const csv = join(dir, "batch.csv");
    writeFileSync(csv, crlf(["dsn,ed25519_private_key_file,p256r1_private_key_file", `SNC0001,${k(1, "ed25519")},${k(1, "p256r1")}`, `SNC0002,${k(2, "ed25519")},${k(2, "p256r1")}`, ""].join("\n")));
    const pinFile = join(dir, "pin.txt");
    writeFileSync(pinFile, `${TEST_PIN}\r\n`);
    const out = join(dir, "out");
    const r = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--pin-file", pinFile, "--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", out, "--json"]);
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["SNC0001.json", "SNC0002.json"]);
    expect(JSON.parse(readFileSync(join(out, "SNC0002.json"), "utf8")).metadata.smsn).toBe(smsnOf("SNC0002"));
  }, 60_000);

  test("mfg build: CRLF config YAML and signing output JSON give provision.py's bytes", async () => {
    const config = join(dir, "config_legacy.yaml");
    const signing = join(dir, "signing.json");
    writeFileSync(config, crlf(readFileSync(input("config_legacy.yaml"), "utf8")));
    writeFileSync(signing, crlf(readFileSync(input("testpki-signing-output.json"), "utf8")));
    mkdirSync(join(dir, "pages"));
    const page = join(dir, "pages", "legacy.bin");
    const r = await swtool(["mfg", "build", signing, "--app_srv_pub", APP_KEY_HEX, "--config", config, "--output_bin", page]);
    expect(r.code).toBe(0);
    expect(new Uint8Array(readFileSync(page))).toEqual(expectedBin("testpki-acs-legacy"));
  });
});
