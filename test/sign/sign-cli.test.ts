// `swtool sign` (compiled binary) against the HSM simulator over HTTP: CSR mode, PEM-key mode,
// the reference tool's refusals, control logs, batch.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseControlLog } from "../../src/controllog/format.ts";
import { CURVES, decodeChainBase64, encodeCsr, makeCsr, computeSmsn, toBase64, toHex, verifyChain, type Curve } from "../../src/sidewalk/index.ts";
import { swtool, swtoolCommand } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { REPO, seed } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { opensslOk } from "../helpers/system.ts";

let hsm: LoadedHsm;
let prodHsm: LoadedHsm;
let dir: string;
const env = { SWTOOL_HSM_PIN: TEST_PIN };

beforeAll(async () => {
  [hsm, prodHsm] = await Promise.all([startLoadedHsm("TEST_DAK_LINE"), startLoadedHsm("RNET_DAK_REHEARSAL")]);
  dir = scratchDir("sign");
});
afterAll(async () => {
  await Promise.all([hsm.stop(), prodHsm.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

function deviceCsrs(smsn: Uint8Array) {
  const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
  const csr = (c: Curve) => toBase64(encodeCsr(makeCsr(c, keys[c], smsn)));
  return { keys, ed: csr("ed25519"), p: csr("p256r1") };
}

const smsnOf = (dsn: string) => computeSmsn({ deviceType: "A17XHX23H06INH", dsn, apid: "pd25", stage: "test" });
const base = () => ["sign", "-p", hsm.productTag, "-c", hsm.url];

describe("swtool sign (CSR mode)", () => {
  test("signs device CSRs: both chains verify and certify the CSR keys", async () => {
    const smsn = smsnOf("SN0000001");
    const d = deviceCsrs(smsn);
    const r = await swtool([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-a", "pd25"], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(["eD25519", "p256R1", "label", "metadata"]);
    expect(out.label).toBe("test");
    expect(out.metadata).toEqual({ smsn: toHex(smsn), apid: "pd25" });
    for (const [curve, key] of [["ed25519", "eD25519"], ["p256r1", "p256R1"]] as const) {
      const chain = decodeChainBase64(out[key], curve);
      expect(verifyChain(chain).ok).toBe(true);
      expect(toHex(chain.certs[0]!.serial)).toBe(toHex(smsn));
      expect(toHex(chain.certs[0]!.publicKey)).toBe(toHex(CURVES[curve].publicKeyFromPrivate(d.keys[curve])));
    }
    expect(r.stdout.startsWith('{\n    "eD25519": "')).toBe(true);
  });

  test("the Ed25519 chain is deterministic: same inputs, same bytes", async () => {
    const d = deviceCsrs(smsnOf("SN0000002"));
    const args = [...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p];
    const [a, b] = [await swtool(args, { env }), await swtool(args, { env })];
    expect(JSON.parse(a.stdout).eD25519).toBe(JSON.parse(b.stdout).eD25519);
    // The HSM draws a fresh ECDSA nonce, as a YubiHSM 2 does.
    expect(JSON.parse(a.stdout).p256R1).not.toBe(JSON.parse(b.stdout).p256R1);
  });

  test("control log and -o file, flat output, app server key from the device profile", async () => {
    const logs = join(dir, "logs1");
    mkdirSync(logs);
    const profile = join(dir, "profile.json");
    const appKey = Buffer.from(seed.app_server_public_key_base64, "base64").toString("hex");
    writeFileSync(profile, JSON.stringify({ Name: "demo", Sidewalk: { ApplicationServerPublicKey: appKey, DakCertificateMetadata: [{ ApId: "pd25", MaxAllowedSignature: 1000 }] } }));
    const d = deviceCsrs(smsnOf("SN0000003"));
    const outFile = join(dir, "out.txt");
    const r = await swtool([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-a", "pd25", "--control_log_dir", logs, "-o", outFile, "--outform", "flat", "--device_profile_json", profile], { env });
    expect(r.code).toBe(0);
    const files = readdirSync(logs);
    expect(files.length).toBe(1);
    expect(files[0]).toMatch(/^C_CONTROL_LOG_\d{14}\.txt$/);
    expect(r.stdout).toBe(`CONTROL_LOG: ${join(logs, files[0]!)}\n`);
    const flat = readFileSync(outFile, "utf8");
    expect(flat).toStartWith(`smsn: ${toHex(smsnOf("SN0000003"))}\nED25519 Sidewalk Certificate Chain: `);
    expect(flat).toEndWith(`Label: test\nApplication Server Public Key:${appKey}\n`);
    const [entry] = parseControlLog(readFileSync(join(logs, files[0]!), "utf8"));
    expect(entry!.serialNumber).toBe(toHex(smsnOf("SN0000003")));
    expect(entry!.label).toBe("test");
    expect(entry!.apid).toBe("pd25");
    // Two more devices in the same second: never overwritten, never sleeping.
    for (const dsn of ["SN0000004", "SN0000005"]) {
      const e = deviceCsrs(smsnOf(dsn));
      expect((await swtool([...base(), "--eddsa_csr", e.ed, "--ecdsa_csr", e.p, "-a", "pd25", "--control_log_dir", logs], { env })).code).toBe(0);
    }
    const smsns = readdirSync(logs).map((f) => parseControlLog(readFileSync(join(logs, f), "utf8"))[0]!.serialNumber).sort();
    expect(smsns).toEqual(["SN0000003", "SN0000004", "SN0000005"].map((s) => toHex(smsnOf(s))).sort());
  });

  test("the device profile is read once: a pipe (bash's <(aws ...)) is enough, the APID checked against it", async () => {
    const logs = join(dir, "logs-pipe");
    mkdirSync(logs);
    const appKey = Buffer.from(seed.app_server_public_key_base64, "base64").toString("hex");
    const profileJson = JSON.stringify({ Sidewalk: { ApplicationServerPublicKey: appKey, DakCertificateMetadata: [{ ApId: "pd25" }] } });
    // A pipe yields its text to the first reader only; a second read of /dev/fd/63 finds it empty.
    const viaPipe = async (args: string[]) => {
      const proc = Bun.spawn(["bash", "-c", 'exec "$@" --device_profile_json <(printf %s "$PROFILE")', "bash", ...swtoolCommand(), ...args], {
        cwd: REPO, env: { ...process.env, ...env, NO_COLOR: "1", PROFILE: profileJson }, stdin: "ignore", stdout: "pipe", stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { stdout, stderr, code };
    };
    const d = deviceCsrs(smsnOf("SN0000012"));
    const r = await viaPipe([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-a", "pd25", "--control_log_dir", logs, "--outform", "flat"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Application Server Public Key:${appKey}\n`);
    const wrong = await viaPipe([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-a", "zz99"]);
    expect(wrong.stderr).toBe("error: --apid zz99 does not match the device profile's DAK ApId pd25 (/dev/fd/63)\n  fix: use --apid pd25, or the device profile of the product you mean\n");
    expect(wrong.code).toBe(2);
  });

  test("refusals of the reference tool, each with exit 2 and its reason", async () => {
    const d = deviceCsrs(smsnOf("SN0000006"));
    const cases: [string[], string][] = [
      [["--eddsa_csr", d.ed], "error: no P-256 public key: give --ecdsa_csr (CSR from the device) or --p256r1_private_key_file (legacy PEM-key flow)"],
      [["--eddsa_csr", d.ed, "--p256r1_private_key_file", "p.pem"], "error: both CSRs must be given: --eddsa_csr and --ecdsa_csr"],
      [[], "error: no Ed25519 public key: give --eddsa_csr (CSR from the device) or --ed25519_private_key_file (legacy PEM-key flow)"],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--control_log_dir", join(dir, "nope"), "-a", "pd25"], `error: control log directory ${join(dir, "nope")} doesn't exist`],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--control_log_dir", dir], "error: the APID is needed to write control logs"],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--client_cert", "c.pem"], "error: both the client certificate and the client key must be given"],
      [["-g", "--ed25519_private_key_file", "a", "--p256r1_private_key_file", "b"], "error: --generate_smsn needs --device_type, --dsn and --apid"],
      [["--ed25519_private_key_file", "a", "--p256r1_private_key_file", "b"], "error: --generate_smsn is needed when no CSR is given"],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--ed25519_private_key", "00", "--ed25519_private_key_file", "x"], "error: both --ed25519_private_key_file and --ed25519_private_key were given"],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "-s", "16"], "error: --smsn_len 16 is not supported"],
      [["--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--outform", "xml"], "error: --outform xml: use json or flat"],
    ];
    for (const [args, message] of cases) {
      const r = await swtool([...base(), ...args], { env });
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
    }
    const tag = await swtool(["sign", "-p", "DAK_NOPREFIX", "-c", hsm.url, "--eddsa_csr", d.ed, "--ecdsa_csr", d.p], { env });
    expect(tag.code).toBe(2);
    expect(tag.stderr).toContain('unable to determine the stage from the product tag "DAK_NOPREFIX"');
  });

  test("bad CSRs: truncated, swapped, tampered, mismatched SMSNs (exit 1, nothing written)", async () => {
    const logs = join(dir, "logs-bad");
    mkdirSync(logs);
    const d = deviceCsrs(smsnOf("SN0000007"));
    const other = deviceCsrs(smsnOf("SN0000008"));
    const tampered = Buffer.from(d.p, "base64");
    tampered[5]! ^= 1;
    const cases: [string, string, string][] = [
      [seed.bad_inputs_seen_in_docs.ed25519_csr_missing_first_char, d.p, '"eddsa_csr" is not valid base64: its length 171 is not a multiple of 4'],
      [d.p, d.ed, "csr.decode: 160 bytes is not an Ed25519 CSR"],
      [d.ed, tampered.toString("base64"), "the P-256 CSR's public key is not a valid P-256 point"],
      [d.ed, other.p, "the CSRs name different SMSNs"],
    ];
    for (const [ed, p, message] of cases) {
      const r = await swtool([...base(), "--eddsa_csr", ed, "--ecdsa_csr", p, "-a", "pd25", "--control_log_dir", logs], { env });
      expect(r.stderr).toContain(message);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
    }
    const sig = Buffer.from(d.ed, "base64");
    sig[100]! ^= 1;
    const r = await swtool([...base(), "--eddsa_csr", sig.toString("base64"), "--ecdsa_csr", d.p], { env });
    expect(r.stderr).toContain("the Ed25519 CSR's signature does not verify with its own public key");
    expect(readdirSync(logs)).toEqual([]);
  });

  test("wrong PIN and production tag with a test chain are refused", async () => {
    const d = deviceCsrs(smsnOf("SN0000009"));
    const wrong = await swtool([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p], { env: { SWTOOL_HSM_PIN: "wrong-pin" } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("the HSM rejected the PIN for authentication key slot 5");
    expect(wrong.stderr).not.toContain("wrong-pin");
    const prodSmsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SN0000009", apid: "pd25" });
    const p = deviceCsrs(prodSmsn);
    const refused = await swtool(["sign", "-p", prodHsm.productTag, "-c", prodHsm.url, "--eddsa_csr", p.ed, "--ecdsa_csr", p.p], { env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("does not end at Amazon's production root, but the tag names a production product");
    const rehearsal = await swtool(["sign", "-p", prodHsm.productTag, "-c", prodHsm.url, "--eddsa_csr", p.ed, "--ecdsa_csr", p.p, "--allow-test-root"], { env });
    expect(rehearsal.code).toBe(0);
    expect(rehearsal.stderr).toContain("REHEARSAL");
    expect(JSON.parse(rehearsal.stdout).label).toBe("production");
  });
});

describe("swtool sign (PEM-key mode)", () => {
  test("keys made by openssl: SMSN generated, private keys in the metadata", async () => {
    const ed = join(dir, "ed.pem");
    const p = join(dir, "p.pem");
    opensslOk("genpkey", "-algorithm", "ed25519", "-out", ed);
    opensslOk("ecparam", "-name", "prime256v1", "-genkey", "-out", p);
    const r = await swtool([...base(), "-g", "-d", "A17XHX23H06INH", "-D", "SN0000010", "-a", "pd25", "--ed25519_private_key_file", ed, "--p256r1_private_key_file", p], { env });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.metadata.smsn).toBe(toHex(smsnOf("SN0000010")));
    expect(Object.keys(out.metadata)).toEqual(["smsn", "apid", "devicePrivKeyEd25519", "devicePrivKeyP256R1"]);
    const edChain = decodeChainBase64(out.eD25519, "ed25519");
    expect(toHex(edChain.certs[0]!.publicKey)).toBe(toHex(CURVES.ed25519.publicKeyFromPrivate(Buffer.from(out.metadata.devicePrivKeyEd25519, "hex"))));
  });

  test("a private key that does not match the CSR is refused", async () => {
    const d = deviceCsrs(smsnOf("SN0000011"));
    const r = await swtool([...base(), "--eddsa_csr", d.ed, "--ecdsa_csr", d.p, "--ed25519_private_key", toHex(CURVES.ed25519.randomPrivateKey())], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the Ed25519 private key given does not match the public key in the CSR");
  });

  test("keys made by swtool keygen, batch of rows with a bad row in the middle", async () => {
    const keys = join(dir, "batchkeys");
    expect((await swtool(["keygen", "--out-dir", keys, "--count", "3"])).code).toBe(0);
    const csv = join(dir, "batch.csv");
    const k = (i: number, c: string) => join(keys, `device-${i}_${c}.pem`);
    writeFileSync(csv, [
      "dsn,ed25519_private_key_file,p256r1_private_key_file",
      `SNB0001,${k(1, "ed25519")},${k(1, "p256r1")}`,
      `SNB0002,${k(2, "p256r1")},${k(2, "p256r1")}`,
      `SNB0003,${k(3, "ed25519")},${k(3, "p256r1")}`,
    ].join("\n"));
    const out = join(dir, "batch-out");
    const logs = join(dir, "batch-logs");
    mkdirSync(logs);
    const r = await swtool([...base(), "--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", out, "--control_log_dir", logs, "--json"], { env });
    expect(r.code).toBe(1);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    // The versioned event schema shared with the line and one-shot runs.
    expect(events.every((e) => e.schema === "swtool.sign.event" && e.version === 2 && e.mode === "batch")).toBe(true);
    expect(events.map((e) => [e.type, e.row])).toEqual([["device-done", 2], ["device-failed", 3], ["device-done", 4], ["summary", undefined]]);
    expect(events[1].error).toContain("device-2_p256r1.pem: is a P-256 key, not Ed25519");
    expect(events[3]).toMatchObject({ rows: 3, signed: 2, failed: 1, notAttempted: 0 });
    expect(readdirSync(out).sort()).toEqual(["SNB0001.json", "SNB0003.json"]);
    expect(readdirSync(logs).length).toBe(2);
    const failFast = await swtool([...base(), "--batch", csv, "-g", "-d", "A17XHX23H06INH", "-a", "pd25", "-o", join(dir, "ff"), "--fail-fast"], { env });
    expect(failFast.code).toBe(1);
    expect(failFast.stdout).toContain("batch: 1 signed, 1 failed, 1 not attempted (--fail-fast) of 3 rows");
  });
});
