// resolveSignMode: the flags alone decide the mode and its preconditions (nothing is read).
import { describe, expect, test } from "bun:test";
import { parseArgs } from "citty";
import { signArgs, type SignArgs } from "../../src/cli/sign/args.ts";
import { resolveSignMode } from "../../src/cli/sign/mode.ts";
import { UsageError } from "../../src/lib/errors.ts";

const parse = (argv: string[]) => ({ args: parseArgs<typeof signArgs>(argv, signArgs) as SignArgs, argv });
const resolve = (...argv: string[]) => {
  const p = parse(argv);
  return resolveSignMode(p.args, p.argv);
};
const refusal = (...argv: string[]) => {
  try {
    resolve(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("not refused");
};

describe("resolveSignMode", () => {
  test("CSRs: one device, with its output and stage", () => {
    const m = resolve("--product", "TEST_DAK_X", "--eddsa_csr", "E", "--ecdsa_csr", "P", "--o", "out.json", "--outform", "flat");
    expect(m.kind).toBe("one");
    if (m.kind !== "one") return;
    expect(m.stage).toBe("test");
    expect(m.output).toBe("out.json");
    expect(m.outform).toBe("flat");
    expect(m.options).toMatchObject({ product: "TEST_DAK_X", eddsaCsr: "E", ecdsaCsr: "P", generateSmsn: false, controlLogVer: "4-0-1" });
    expect(m.warnings).toEqual([]);
  });
  test("--test_cert: a tag without a stage prefix is the test stage", () => {
    expect(resolve("--product", "DAK_X", "--test_cert", "--eddsa_csr", "E", "--ecdsa_csr", "P").stage).toBe("test");
    expect(refusal("--product", "DAK_X", "--eddsa_csr", "E", "--ecdsa_csr", "P")).toBe('unable to determine the stage from the product tag "DAK_X"');
  });
  test("--batch: the rows' defaults are the device flags only", () => {
    const m = resolve("--product", "RNET_DAK_X", "--batch", "rows.csv", "-g", "--device_type", "T", "--apid", "pd25", "--o", "out", "--fail-fast");
    expect(m.kind).toBe("batch");
    if (m.kind !== "batch") return;
    expect(m.defaults).toEqual({ generateSmsn: true, deviceType: "T", apid: "pd25" });
    expect(m.outDir).toBe("out");
    expect(m.failFast).toBe(true);
    expect(m.concurrency).toBe(1);
  });
  test("--port: the line, every --port kept, its preconditions checked", () => {
    const line = ["--product", "RNET_DAK_X", "--device_type", "T", "--apid", "pd25", "--app_server_public_key", "ab".repeat(32), "--control_log_dir", "logs"];
    const m = resolve(...line, "--port", "/dev/ttyUSB0", "--port", "/dev/ttyUSB1");
    expect(m.kind).toBe("line");
    if (m.kind !== "line") return;
    expect(m.ports).toEqual(["/dev/ttyUSB0", "/dev/ttyUSB1"]);
    expect(m.appKey).toEqual({ from: "flag", text: "ab".repeat(32) });
    expect(refusal(...line, "--port", "P", "--eddsa_csr", "E")).toBe("--port provisions devices that make their own keys: leave out --batch, CSRs and key files");
    expect(refusal("--product", "RNET_DAK_X", "--port", "P", "--apid", "pd25")).toBe("the line needs --device_type and --apid (the device computes its SMSN from them)");
    expect(refusal("--product", "RNET_DAK_X", "--port", "P", "--apid", "pd25", "-d", "T")).toBe("the line needs the application server public key");
    expect(refusal("--product", "RNET_DAK_X", "--port", "P", "--apid", "pd25", "-d", "T", "--device_profile_json", "p.json")).toBe("the line needs --control_log_dir (one control log per provisioned device)");
  });
  test("--verify_cert: 1 silently, 0 with a warning, anything else refused (as the help says)", () => {
    const base = ["--product", "TEST_DAK_X", "--eddsa_csr", "E", "--ecdsa_csr", "P"];
    expect(resolve(...base, "--verify_cert", "1").warnings).toEqual([]);
    expect(resolve(...base, "--verify_cert", "0").warnings).toEqual(["--verify_cert 0 is ignored: swtool verifies every chain before it is written"]);
    expect(refusal(...base, "--verify_cert", "2")).toBe("--verify_cert 2: use 0 or 1");
    expect(signArgs.verify_cert.description).toContain("0 (accepted with a warning; swtool always verifies)");
  });
  test("shared refusals", () => {
    expect(refusal("--product", "TEST_DAK_X", "--outform", "xml")).toBe("--outform xml: use json or flat");
    expect(refusal("--product", "TEST_DAK_X", "--device_profile_json", "p", "--app_server_public_key", "k")).toBe("give --device_profile_json or --app_server_public_key, not both");
  });
});
