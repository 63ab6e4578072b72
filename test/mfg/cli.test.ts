// swtool mfg end to end on the compiled binary: build from each input form to the exact bytes
// of provision.py, Intel HEX through objcopy, decode output, batch, merge refusals, exit codes.
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { swtool } from "../helpers/cli.ts";
import { APP_KEY, APP_KEY_HEX, expected, expectedBin, expectedHex, input } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const root = scratchDir("mfg");
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const dir = () => {
  const d = join(root, `c${++n}`);
  mkdirSync(d);
  return d;
};
const same = (path: string, name: string) => expect(readFileSync(path).toString("hex")).toBe(Buffer.from(expectedBin(name)).toString("hex"));

describe("swtool mfg build", () => {
  test("signing output + --app_srv_pub hex: TLV page and HEX as provision.py, files 0600", async () => {
    const d = dir();
    const r = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--output_bin", join(d, "p.bin"), "--output_hex", join(d, "p.hex")]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("page:    TLV, version 8, 1528 bytes");
    same(join(d, "p.bin"), "testpki-acs-tlv");
    expect(readFileSync(join(d, "p.hex"), "utf8")).toBe(expectedHex("testpki-acs-tlv"));
    expect(statSync(join(d, "p.bin")).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, "p.hex")).mode & 0o777).toBe(0o600);
    // objcopy, an independent Intel HEX reader, gets the same page back.
    expect(Bun.spawnSync(["objcopy", "-I", "ihex", "-O", "binary", join(d, "p.hex"), join(d, "o.bin")]).exitCode).toBe(0);
    same(join(d, "o.bin"), "testpki-acs-tlv");
  });

  test("app key from a 32-byte file, legacy config, --addr", async () => {
    const d = dir();
    writeFileSync(join(d, "app.bin"), APP_KEY);
    const r = await swtool(["mfg", "build", "--certificate_json", input("testpki-signing-output.json"), "--app-srv-pub", join(d, "app.bin"), "--config", input("config_legacy.yaml"), "--output-bin", join(d, "l.bin")]);
    expect(r.code).toBe(0);
    same(join(d, "l.bin"), "testpki-acs-legacy");
    const h = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--addr", "0xFFF8", "--output_hex", join(d, "a.hex")]);
    expect(h.code).toBe(0);
    expect(readFileSync(join(d, "a.hex"), "utf8")).toBe(expectedHex("testpki-acs-addr-fff8"));
  });

  test("AWS pair and AWS certificate JSON", async () => {
    const d = dir();
    const r = await swtool(["mfg", "build", "--wireless_device_json", input("testpki-wireless-device.json"), "--device_profile_json", input("testpki-device-profile.json"), "--output_bin", join(d, "w.bin")]);
    expect(r.code).toBe(0);
    same(join(d, "w.bin"), "testpki-aws-tlv");
    const c = await swtool(["mfg", "build", input("testpki-certificate.json"), "--output_bin", join(d, "c.bin"), "--output_hex", join(d, "c.hex")]);
    expect(c.code).toBe(0);
    same(join(d, "c.bin"), "testpki-certificate-tlv");
  });

  test("an existing page is merged as provision.py merges; anything else is refused", async () => {
    const d = dir();
    copyFileSync(expected("testpki-certificate-tlv.bin"), join(d, "m.bin"));
    const r = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--output_bin", join(d, "m.bin")]);
    expect(r.stdout).toContain("(merged into the existing page)");
    same(join(d, "m.bin"), "merge-tlv-over-other");
    writeFileSync(join(d, "firmware.bin"), "not a page");
    const bad = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--output_bin", join(d, "firmware.bin")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`error: ${join(d, "firmware.bin")} exists and is not a manufacturing page`);
    expect(readFileSync(join(d, "firmware.bin"), "utf8")).toBe("not a page");
    copyFileSync(expected("testpki-acs-legacy.bin"), join(d, "v7.bin"));
    const v7 = await swtool(["mfg", "build", input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX, "--output_bin", join(d, "v7.bin")]);
    expect(v7.stderr).toContain("holds a version 7 page; merging a version 8 page into it would corrupt both");
  });

  test("refusals: exit codes and messages naming the problem", async () => {
    const d = dir();
    const out = ["--output_bin", join(d, "x.bin")];
    const cases: [string[], number, string][] = [
      [[input("testpki-signing-output.json"), ...out], 1, 'no application server public key'],
      [[input("testpki-signing-output.json"), "--app_srv_pub", "abcd", ...out], 1, '"--app_srv_pub" expected 32 bytes, got 2'],
      [[input("testpki-signing-output.json"), "--app_srv_pub", APP_KEY_HEX], 2, "no output"],
      [["--output_bin", join(d, "x.bin")], 2, "no input"],
      [["--wireless_device_json", input("testpki-wireless-device.json"), ...out], 2, "--wireless_device_json and --device_profile_json go together"],
      [[input("testpki-certificate.json"), "--addr", "fd000", ...out], 2, '--addr "fd000" is not an address'],
      [[join(d, "missing.json"), ...out], 1, `cannot read signing output ${join(d, "missing.json")} (ENOENT)`],
      [[input("serial-expansion-signing-output.json"), ...out], 1, "the page would not load correctly on the device: record DAK_ED25519_SERIAL"],
      [[input("testpki-certificate.json"), "--config", input("missing.yaml"), ...out], 1, "cannot read config"],
    ];
    for (const [args, code, message] of cases) {
      const r = await swtool(["mfg", "build", ...args]);
      expect({ args, code: r.code, stderr: r.stderr.includes(message) }).toEqual({ args, code, stderr: true });
    }
  });

  test("batch: one page per signing output; a bad file is reported, the others built", async () => {
    const src = dir();
    const out = join(src, "pages");
    copyFileSync(input("testpki-certificate.json"), join(src, "dev-2.json"));
    copyFileSync(input("serial-expansion-signing-output.json"), join(src, "dev-4.json"));
    copyFileSync(input("testpki-device-profile.json"), join(src, "profile.json"));
    writeFileSync(join(src, "broken.json"), "{");
    const r = await swtool(["mfg", "build", "--from-dir", src, "--out-dir", out]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`ok      ${join(src, "dev-2.json")} -> ${join(out, "dev-2.bin")}, ${join(out, "dev-2.hex")}`);
    expect(r.stdout).toContain(`FAILED  ${join(src, "broken.json")}: ${join(src, "broken.json")}: not valid JSON`);
    expect(r.stdout).toContain(`FAILED  ${join(src, "dev-4.json")}: the page would not load`);
    expect(r.stdout).toContain(`skipped ${join(src, "profile.json")}: not a signing output`);
    expect(r.stdout).toContain("1 built, 2 failed, 1 skipped");
    same(join(out, "dev-2.bin"), "testpki-certificate-tlv");
    expect(readFileSync(join(out, "dev-2.hex"), "utf8")).toBe(expectedHex("testpki-certificate-tlv"));
    const json = await swtool(["mfg", "build", "--from-dir", src, "--out-dir", join(src, "p2"), "--formats", "bin", "--json"]);
    const doc = JSON.parse(json.stdout);
    expect(doc.built.map((b: { outputBin: string; outputHex?: string }) => [b.outputBin, b.outputHex])).toEqual([[join(src, "p2", "dev-2.bin"), undefined]]);
    expect(doc.failed.length).toBe(2);
  });
});

describe("swtool mfg decode", () => {
  test("every field, checks, private keys hidden unless asked", async () => {
    const r = await swtool(["mfg", "decode", expected("testpki-acs-tlv.hex")]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe(`${expected("testpki-acs-tlv.hex")}: Intel HEX at 0xFD000, TLV page version 8, 1528 bytes`);
    expect(lines.filter((l) => /^ +\d+ [A-Z0-9_]+ +@/.test(l)).length).toBe(37);
    expect(r.stdout).toContain('  38 APID                            @ 1524   4B  "ab12" (61623132)');
    expect(r.stdout).toContain("(private key hidden; --show-private-keys)");
    expect(r.stdout).toContain("ok     Ed25519 private key: matches DEVICE_PUB");
    expect(lines.at(-2)).toBe("OK");
    const shown = await swtool(["mfg", "decode", expected("testpki-acs-legacy.bin"), "--show-private-keys", "--json"]);
    const doc = JSON.parse(shown.stdout);
    expect(doc.layout).toBe("fixed");
    expect(doc.version).toBe(7);
    expect(doc.fields.find((f: { name: string }) => f.name === "DEVICE_PRIV_ED25519").value).toMatch(/^[0-9a-f]{64}$/);
  });

  test("the seed page: Amazon's root, but the stand-in keys do not match (exit 1)", async () => {
    const r = await swtool(["mfg", "decode", expected("seed-tlv.bin"), "--expect-root", "amazon"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("ok     ed25519 root: Amazon production root");
    expect(r.stdout).toContain("FAILED Ed25519 private key: DEVICE_PRIV_ED25519 is not the private key of DEVICE_PUB_ED25519");
    const test = await swtool(["mfg", "decode", expected("testpki-aws-tlv.bin"), "--expect-root", "amazon"]);
    expect(test.code).toBe(1);
    expect(test.stdout).toContain("FAILED ed25519 root: NOT Amazon's production root");
  });

  test("not a page", async () => {
    const d = dir();
    writeFileSync(join(d, "erased.bin"), new Uint8Array(64).fill(0xff));
    const r = await swtool(["mfg", "decode", join(d, "erased.bin")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: mfg.decode: the page is erased (every byte 0xFF): the device was never provisioned");
  });
});
