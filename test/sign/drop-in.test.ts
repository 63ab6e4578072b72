// `swtool sign` where Amazon's sid_signing_tool has flags swtool once refused or got wrong:
// --test_cert with a tag without a stage prefix, -V, --cache_cert, --verify_cert 0, and a
// --help that fits 80 columns, carries no colour codes when piped and spells -o as -o.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { CURVES, decodeChainBase64, encodeCsr, makeCsr, computeSmsn, toBase64, toHex, verifyChain, type Curve } from "../../src/sidewalk/index.ts";
import { swtool } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

let noPrefix: LoadedHsm;
let hsm: LoadedHsm;
const hsmLog: string[] = [];
let dir: string;
const env = { SWTOOL_HSM_PIN: TEST_PIN };

beforeAll(async () => {
  [noPrefix, hsm] = await Promise.all([
    startLoadedHsm("DAK_X", { testCert: true }),
    startLoadedHsm("TEST_DAK_CACHE", { log: (line) => hsmLog.push(line) }),
  ]);
  dir = scratchDir("drop-in");
});
afterAll(async () => {
  await Promise.all([noPrefix.stop(), hsm.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SN0000042", apid: "pd25", stage: "test" });
function csrs() {
  const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
  const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
  return ["--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1")];
}

describe("--test_cert", () => {
  test("sign --test_cert -p DAK_X signs in the test stage", async () => {
    const r = await swtool(["sign", "--test_cert", "-p", "DAK_X", "-c", noPrefix.url, ...csrs()], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.label).toBe("test");
    for (const [curve, key] of [["ed25519", "eD25519"], ["p256r1", "p256R1"]] as const) {
      const chain = decodeChainBase64(out[key], curve);
      expect(verifyChain(chain).ok).toBe(true);
      expect(toHex(chain.certs[0]!.serial)).toBe(toHex(smsn));
    }
  });
  test("without --test_cert the same tag is refused, naming the flag", async () => {
    const r = await swtool(["sign", "-p", "DAK_X", "-c", noPrefix.url, ...csrs()], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error: unable to determine the stage from the product tag "DAK_X"');
    expect(r.stderr).toContain("--test_cert signs a tag without a prefix in the test stage");
  });
});

describe("-V", () => {
  test("prints the version, as the reference tool's -V does", async () => {
    for (const argv of [["sign", "-V"], ["-V"], ["sign", "--version"]]) {
      const r = await swtool(argv);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`swtool ${pkg.version}\n`);
    }
  });
});

describe("--verify_cert", () => {
  test("0 is accepted with a warning (as the help says), 2 is refused", async () => {
    const zero = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--verify_cert", "0", ...csrs()], { env });
    expect(zero.code).toBe(0);
    expect(zero.stderr).toContain("--verify_cert 0 is ignored: swtool verifies every chain before it is written");
    expect(JSON.parse(zero.stdout).label).toBe("test");
    const two = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--verify_cert", "2", ...csrs()], { env });
    expect(two.code).toBe(2);
    expect(two.stderr).toContain("error: --verify_cert 2: use 0 or 1");
  });
});

describe("--cache_cert", () => {
  test("the first run caches the CA certificates by HSM serial; the next reads none of them from the HSM", async () => {
    const cache = join(dir, "cache");
    const cacheEnv = { ...env, SWTOOL_CACHE_DIR: cache };
    const getOpaques = () => hsmLog.filter((l) => l.includes("get-opaque")).length;
    const before = getOpaques();
    const first = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--cache_cert", ...csrs()], { env: cacheEnv });
    expect(first.code).toBe(0);
    const readFirst = getOpaques() - before;
    expect(readFirst).toBeGreaterThan(10);
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^hsm-\d+-TEST_DAK_CACHE\.json$/);
    const second = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--cache_cert", ...csrs()], { env: cacheEnv });
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    expect(getOpaques() - before - readFirst).toBe(0);
    expect(JSON.parse(second.stdout).eD25519.length).toBe(JSON.parse(first.stdout).eD25519.length);
  });
  test("a damaged cache is read again from the HSM (with a warning) and rewritten; chains still verify", async () => {
    const cache = join(dir, "cache-damaged");
    const cacheEnv = { ...env, SWTOOL_CACHE_DIR: cache };
    expect((await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--cache_cert", ...csrs()], { env: cacheEnv })).code).toBe(0);
    const file = join(cache, readdirSync(cache)[0]!);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    // Another CA signature: the cached chain no longer verifies.
    doc.caCerts.ed25519[1].signature = "00".repeat(64);
    writeFileSync(file, JSON.stringify(doc));
    const r = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--cache_cert", ...csrs()], { env: cacheEnv });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("reading the certificates from the HSM again");
    const out = JSON.parse(r.stdout);
    expect(verifyChain(decodeChainBase64(out.eD25519, "ed25519")).ok).toBe(true);
    expect(JSON.parse(readFileSync(file, "utf8")).caCerts.ed25519[1].signature).not.toBe("00".repeat(64));
    writeFileSync(file, "{not json");
    const again = await swtool(["sign", "-p", hsm.productTag, "-c", hsm.url, "--cache_cert", ...csrs()], { env: cacheEnv });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`certificate cache ${file}: not readable JSON`);
    expect(existsSync(file)).toBe(true);
  });
});

describe("sign --help", () => {
  test("grouped by mode, within 80 columns, no colour codes when piped, -o as -o", async () => {
    const r = await swtool(["sign", "--help"], { env: { NO_COLOR: "", FORCE_COLOR: "1" } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("\x1b");
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines.filter((l) => l.length > 80)).toEqual([]);
    const headings = lines.filter((l) => /^[a-zA-Z].*:$/.test(l));
    expect(headings).toEqual([
      "HSM:",
      "device (every mode):",
      "one device (CSRs from the device):",
      "legacy keys (PEM-key flow, with -g):",
      "batch:",
      "line (--port, repeat per fixture):",
      "serial:",
      "machine interface (--json, device hooks; every mode):",
      "global:",
    ]);
    // The hook flags are defined once, for every mode: shown once, under the machine interface.
    const machine = lines.slice(lines.indexOf("machine interface (--json, device hooks; every mode):"), lines.indexOf("global:"));
    for (const flag of ["--on-device-done", "--on-device-failed", "--hook-timeout"]) {
      expect(lines.filter((l) => l.trimStart().startsWith(`${flag} `)).length).toBe(1);
      expect(machine.some((l) => l.trimStart().startsWith(`${flag} `))).toBe(true);
    }
    expect(lines.some((l) => l.startsWith("  -o <value> "))).toBe(true);
    expect(r.stdout).not.toMatch(/--o[ =<]/);
    expect(r.stdout).toContain("  -p, --product <value>");
    expect(r.stdout).toContain("  --cache_cert ");
    expect(r.stdout).toContain("1, or 0 (accepted with a");
  });
});
