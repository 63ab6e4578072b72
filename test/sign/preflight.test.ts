// `swtool sign` spends no DAK signature on a run that cannot write its result: every output
// path is checked before the first HSM command (the simulator counts the commands it got).
// Outputs holding device private keys are 0600; device nodes are written into, not replaced.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHsmSimulator, type HsmSimulator } from "../../src/hsm/index.ts";
import { loadTestChain } from "../../src/signer/hsm/index.ts";
import { CURVES, computeSmsn, encodeCsr, makeCsr, toBase64, type Curve } from "../../src/sidewalk/index.ts";
import { generateKeyPem } from "../../src/sign/keys.ts";
import { swtool } from "../helpers/cli.ts";
import { IS_ROOT, makeNullDevice, smallDisk } from "../helpers/disk.ts";
import { TEST_PIN } from "../helpers/hsm.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const PRODUCT = "TEST_DAK_LINE";
const env = { SWTOOL_HSM_PIN: TEST_PIN };
let sim: HsmSimulator;
let dir: string;
/** Every command the HSM got since the last reset, and the signatures among them. */
let commands: string[] = [];
const signatures = () => commands.filter((c) => /sign-e(d|c)dsa/.test(c)).length;

beforeAll(async () => {
  sim = await startHsmSimulator({ listen: "127.0.0.1:0", latency: "none", log: (line) => commands.push(line) });
  await loadTestChain({ connector: sim.url, productTag: PRODUCT, pin: TEST_PIN });
  dir = scratchDir("preflight");
});
afterAll(async () => {
  await sim.stop();
  rmSync(dir, { recursive: true, force: true });
});

function csrArgs(dsn: string): string[] {
  const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" });
  const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, CURVES[c].randomPrivateKey(), smsn)));
  return ["--eddsa_csr", csr("ed25519"), "--ecdsa_csr", csr("p256r1"), "-a", "pd25"];
}

function keyFiles(name: string): string[] {
  const ed = join(dir, `${name}_ed25519.pem`);
  const p = join(dir, `${name}_p256r1.pem`);
  writeFileSync(ed, generateKeyPem("ed25519"), { mode: 0o600 });
  writeFileSync(p, generateKeyPem("p256r1"), { mode: 0o600 });
  return ["--ed25519_private_key_file", ed, "--p256r1_private_key_file", p];
}

const sign = (args: string[], connector = sim.url) => {
  commands = [];
  return swtool(["sign", "-p", PRODUCT, "-c", connector, ...args], { env });
};

describe("pre-flight: no HSM command for a run that cannot write its result", () => {
  test("-o in a directory that does not exist", async () => {
    const r = await sign([...csrArgs("SNP0001"), "-o", "/nonexistent/x.json"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: "error: -o: the directory /nonexistent does not exist\n  fix: create it first, or give another path\n" });
    expect(commands).toEqual([]);
  });

  test("-o naming a directory", async () => {
    const r = await sign([...csrArgs("SNP0002"), "-o", dir]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `error: -o ${dir} is a directory\n  fix: give -o a file name inside it, e.g. ${join(dir, "out.json")}\n` });
    expect(commands).toEqual([]);
  });

  test("a --control_log_dir that does not exist, and a read-only one", async () => {
    const missing = join(dir, "no-logs");
    const r = await sign([...csrArgs("SNP0003"), "--control_log_dir", missing]);
    // The reference tool's own refusal (a usage error), never a created directory.
    expect(r).toEqual({ code: 2, stdout: "", stderr: `error: control log directory ${missing} doesn't exist\n  fix: create it first; swtool never creates it, so a typo cannot send logs elsewhere\n` });
    expect(commands).toEqual([]);
    // Root writes anywhere a mode allows nothing: a read-only mount then; otherwise mode 0555.
    const disk = IS_ROOT ? smallDisk(64 * 1024, { readOnly: true }) : undefined;
    // Root without mounts (a container): a mode does not stop root, so there is nothing to show.
    if (IS_ROOT && !disk) return;
    const readOnly = disk?.dir ?? join(dir, "ro-logs");
    if (!disk) {
      mkdirSync(readOnly);
      chmodSync(readOnly, 0o555);
    }
    try {
      const ro = await sign([...csrArgs("SNP0004"), "--control_log_dir", readOnly]);
      const why = disk ? "the file system is read-only" : "permission denied";
      expect(ro).toEqual({
        code: 1,
        stdout: "",
        stderr: `error: --control_log_dir: cannot create files in ${readOnly}: ${why}\n  fix: give a writable directory (check its permissions and that its disk is mounted read-write)\n`,
      });
      expect(commands).toEqual([]);
    } finally {
      disk?.unmount();
    }
  });

  test("a dead connector with a bad -o names the -o problem", async () => {
    const r = await sign([...csrArgs("SNP0005"), "-o", "/nonexistent/x.json"], "http://127.0.0.1:9");
    expect(r.stderr).toBe("error: -o: the directory /nonexistent does not exist\n  fix: create it first, or give another path\n");
    expect(r.code).toBe(1);
  });

  test("batch: a row whose output exists, and a second row for one DSN, are refused before signing", async () => {
    const out = join(dir, "batch-out");
    mkdirSync(out);
    writeFileSync(join(out, "SNB0002.json"), "earlier run\n");
    const csv = join(dir, "batch.csv");
    const rows = ["SNB0001", "SNB0002", "SNB0003", "SNB0001"].map((dsn, i) => {
      const [, ed, , p] = keyFiles(`b${i}`);
      return `${dsn},${ed},${p}`;
    });
    writeFileSync(csv, ["dsn,ed25519_private_key_file,p256r1_private_key_file", ...rows].join("\n"));
    const r = await sign(["--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", out, "--sessions", "1", "--json"]);
    expect(r.code).toBe(1);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(events.map((e) => [e.row, e.type === "device-done", e.error])).toEqual([
      [2, true, undefined],
      [3, false, `line 3: output ${join(out, "SNB0002.json")} already exists (choose another output name, or move the old file away first)`],
      [4, true, undefined],
      [5, false, "line 5: another row already writes SNB0001.json (give each row its own DSN)"],
      [undefined, false, undefined],
    ]);
    // Two devices signed, two signatures each; nothing for the refused rows.
    expect(signatures()).toBe(4);
    expect(readFileSync(join(out, "SNB0002.json"), "utf8")).toBe("earlier run\n");
    // Batch outputs carry the device private keys.
    for (const name of ["SNB0001.json", "SNB0003.json"]) expect(statSync(join(out, name)).mode & 0o777).toBe(0o600);
  });
});

describe("the line's flags and ledger are checked before the HSM is opened", () => {
  // A typo must not wait for a free HSM session (the line waits for one without end) before it is told.
  const line = (extra: string[]) =>
    sign(["--port", "/dev/null", "-d", "A17XHX23H06INH", "-a", "pd25", "--app_server_public_key", "00".repeat(32), "--control_log_dir", join(dir, "line-logs"), ...extra]);

  test("a bad --count, --command-timeout, --boot-banner or --hook-timeout: usage error, no HSM command", async () => {
    const cases: [string[], string][] = [
      [["--dsn-template", "SN{seq:7}", "--count", "abc"], 'error: --count "abc" is not a whole number (at least 1)\n'],
      [["--dsn-template", "SN{seq:7}", "--command-timeout", "10"], 'error: --command-timeout "10" is not a whole number (at least 50)\n'],
      [["--dsn-template", "SN{seq:7}", "--boot-banner", "("], 'error: --boot-banner "(" is not a regular expression: Invalid regular expression: missing )\n'],
      [["--dsn-template", "SN{seq:7}", "--hook-timeout", "0"], 'error: --hook-timeout "0" is not a whole number (at least 1)\n'],
      [["--count", "2"], "error: the line needs DSNs: --dsn (one device), --dsn-file FILE, --dsn-template 'SN{seq:7}' or --dsn-scan\n"],
    ];
    for (const [extra, stderr] of cases) {
      expect(await line(extra)).toEqual({ code: 2, stdout: "", stderr });
      expect(commands).toEqual([]);
    }
  });

  test("a damaged ledger is refused before the HSM is opened", async () => {
    const bad = join(dir, "damaged.db");
    writeFileSync(bad, "this is not a database, it only looks like one ".repeat(100));
    expect(await line(["--dsn-template", "SN{seq:7}", "--ledger", bad])).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: the ledger ${bad} is damaged (file is not a database)\n  fix: stop the line, keep a copy of the file, and restore the ledger from its last backup (the control logs still record every provisioned device)\n`,
    });
    expect(commands).toEqual([]);
  });
});

describe("private keys stay private; outputs are written where -o says", () => {
  test("legacy output (-g with key files) is 0600, CSR-mode output 0644", async () => {
    const legacy = join(dir, "leg.json");
    const r = await sign(["-g", "-d", "A17XHX23H06INH", "-D", "SNM0001", "-a", "pd25", ...keyFiles("leg"), "-o", legacy]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(readFileSync(legacy, "utf8")).toContain('"devicePrivKeyEd25519"');
    expect(statSync(legacy).mode & 0o777).toBe(0o600);
    // Overwritten by the next device (as the reference does): still 0600, no temporary left.
    expect((await sign(["-g", "-d", "A17XHX23H06INH", "-D", "SNM0002", "-a", "pd25", ...keyFiles("leg2"), "-o", legacy])).code).toBe(0);
    expect(statSync(legacy).mode & 0o777).toBe(0o600);
    const csrOut = join(dir, "csr.json");
    expect((await sign([...csrArgs("SNM0003"), "-o", csrOut])).code).toBe(0);
    expect(statSync(csrOut).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  test("-o - is stdout; -o a device node leaves the node a device", async () => {
    const r = await sign([...csrArgs("SNM0004"), "-o", "-"]);
    expect(r.code).toBe(0);
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(["eD25519", "p256R1", "label", "metadata"]);
    const node = join(dir, "null");
    if (!makeNullDevice(node)) return;
    const toNode = await sign([...csrArgs("SNM0005"), "-o", node]);
    expect(toNode).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(statSync(node).isCharacterDevice()).toBe(true);
  });
});
