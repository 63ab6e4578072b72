// Signing on Windows: dist/swtool.exe under Wine. keygen (the owner-only ACL path, and what
// Wine makes of it), one-shot CSR mode writing its control log to a UNC share, PEM-key mode
// with key files that have CRLF line endings, and --batch from a CRLF CSV, all on Z:\ paths.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CURVES, computeSmsn, decodeChainBase64, encodeCsr, makeCsr, toBase64, toHex, verifyChain, type Curve } from "../../src/sidewalk/index.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { ensurePrefix, exe, PREFIX, skipReason, stopWineserver, win } from "./wine.ts";

const suite = skipReason ? describe.skip : describe;
const env = { SWTOOL_HSM_PIN: TEST_PIN };
let hsm: LoadedHsm;
let dir: string;

beforeAll(async () => {
  if (skipReason) return;
  hsm = await startLoadedHsm("TEST_DAK_WINSIGN");
  dir = mkdtempSync(join(tmpdir(), "swtool-win-sign-"));
  ensurePrefix();
}, 120_000);
afterAll(async () => {
  if (skipReason) return;
  await hsm.stop();
  stopWineserver();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const base = () => ["sign", "-p", hsm.productTag, "-c", hsm.url];
const smsnOf = (dsn: string) => computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" });
const crlf = (text: string) => text.replace(/\r?\n/g, "\r\n");

function deviceCsrs(smsn: Uint8Array) {
  const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
  const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
  return { keys, ed: csr("ed25519"), p: csr("p256r1") };
}

suite("swtool.exe signing (Wine)", () => {
  test("keygen: key files never overwritten; the Windows ACL path runs and says what the file got", async () => {
    const keys = join(dir, "keys");
    const r = await exe(["keygen", "--out-dir", win(keys), "--count", "2"]);
    expect(r.code).toBe(0);
    const names = ["device-1_ed25519.pem", "device-1_p256r1.pem", "device-2_ed25519.pem", "device-2_p256r1.pem"];
    expect(r.stdout).toBe(names.map((n) => `${win(join(keys, n))}\n`).join(""));
    expect(readdirSync(keys).sort()).toEqual(names);
    expect(readFileSync(join(keys, names[0]!), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----\n");
    // Wine 8 maps access lists to Unix mode bits, so the owner-only DACL swtool sets reads back
    // as three entries; on NTFS it is one. Only the Windows code path (restrictToCurrentUser,
    // which reads the DACL back) can print this.
    const warnings = r.stderr.split(/\r?\n/).filter((l) => l.includes("is not private"));
    expect(warnings.map((l) => l.slice(l.indexOf("Z:\\")))).toEqual(
      names.map((n) => `${win(join(keys, n))} is not private to this user: its access list has 3 entries instead of one; other accounts on this PC may read it (keep key files on an NTFS disk)`),
    );
    // MoveFileExW without REPLACE_EXISTING refuses the taken name: the old key stays, no temporary is left.
    const before = readFileSync(join(keys, names[0]!), "utf8");
    const third = await exe(["keygen", "--out-dir", win(keys), "--count", "2"]);
    expect(third.code).toBe(1);
    expect(third.stderr).toContain(`error: ${win(join(keys, names[0]!))} already exists`);
    expect(readFileSync(join(keys, names[0]!), "utf8")).toBe(before);
    expect(readdirSync(keys).sort()).toEqual(names);
  }, 60_000);

  test("one-shot CSR mode: chains verify, the control log goes to a UNC share (\\\\linepc\\logs)", async () => {
    const share = join(dir, "share");
    mkdirSync(share);
    mkdirSync(join(PREFIX, "dosdevices", "unc", "linepc"), { recursive: true });
    rmSync(join(PREFIX, "dosdevices", "unc", "linepc", "logs"), { force: true });
    symlinkSync(share, join(PREFIX, "dosdevices", "unc", "linepc", "logs"));
    const smsn = smsnOf("SNW0001");
    const d = deviceCsrs(smsn);
    const r = await exe([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-a", "pd25", "--control_log_dir", "\\\\linepc\\logs"], { env });
    expect(r.code).toBe(0);
    const [json, controlLine] = r.stdout.split(/\r?\n(?=CONTROL_LOG: )/);
    const out = JSON.parse(json!);
    expect(out.metadata).toEqual({ smsn: toHex(smsn), apid: "pd25" });
    for (const [curve, key] of [["ed25519", "eD25519"], ["p256r1", "p256R1"]] as const) {
      const chain = decodeChainBase64(out[key], curve);
      expect(verifyChain(chain).ok).toBe(true);
      expect(toHex(chain.certs[0]!.publicKey)).toBe(toHex(CURVES[curve].publicKeyFromPrivate(d.keys[curve])));
    }
    const logs = readdirSync(share);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/^C_CONTROL_LOG_\d{14}\.txt$/);
    expect(controlLine!.trim()).toBe(`CONTROL_LOG: \\\\linepc\\logs\\${logs[0]}`);
  }, 60_000);

  test("PEM-key mode with CRLF key files (as Notepad saves them)", async () => {
    const keys = join(dir, "pem");
    expect((await exe(["keygen", "--out-dir", win(keys)])).code).toBe(0);
    for (const f of readdirSync(keys)) writeFileSync(join(keys, f), crlf(readFileSync(join(keys, f), "utf8")));
    const r = await exe([...base(), "-g", "-d", "A17XHX23H06INH", "-D", "SNW0010", "-a", "pd25", "--ed25519_private_key_file", win(join(keys, "device_ed25519.pem")), "--p256r1_private_key_file", win(join(keys, "device_p256r1.pem"))], { env });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.metadata.smsn).toBe(toHex(smsnOf("SNW0010")));
    const edChain = decodeChainBase64(out.eD25519, "ed25519");
    expect(toHex(edChain.certs[0]!.publicKey)).toBe(toHex(CURVES.ed25519.publicKeyFromPrivate(Buffer.from(out.metadata.devicePrivKeyEd25519, "hex"))));
  }, 60_000);

  test("--batch from a CRLF CSV: one output and one control log per row, in folders with spaces", async () => {
    const keys = join(dir, "batch keys");
    expect((await exe(["keygen", "--out-dir", win(keys), "--count", "3"])).code).toBe(0);
    const k = (i: number, c: string) => win(join(keys, `device-${i}_${c}.pem`));
    const csv = join(dir, "batch.csv");
    writeFileSync(csv, ["dsn,ed25519_private_key_file,p256r1_private_key_file", ...[1, 2, 3].map((i) => `SNWB00${i},${k(i, "ed25519")},${k(i, "p256r1")}`)].join("\r\n") + "\r\n");
    const out = join(dir, "batch out");
    const logs = join(dir, "batch logs");
    mkdirSync(logs);
    const r = await exe([...base(), "--batch", win(csv), "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", win(out), "--control_log_dir", win(logs), "--json"], { env });
    expect(r.code).toBe(0);
    const events = r.stdout.trim().split(/\r?\n/).map((l) => JSON.parse(l));
    expect(events.map((e) => [e.type, e.row])).toEqual([["device-done", 2], ["device-done", 3], ["device-done", 4], ["summary", undefined]]);
    expect(events[3]).toMatchObject({ rows: 3, signed: 3, failed: 0 });
    expect(readdirSync(out).sort()).toEqual(["SNWB001.json", "SNWB002.json", "SNWB003.json"]);
    expect(readdirSync(logs)).toHaveLength(3);
    const first = JSON.parse(readFileSync(join(out, "SNWB001.json"), "utf8"));
    expect(first.metadata.smsn).toBe(toHex(smsnOf("SNWB001")));
  }, 90_000);
});
