// A command printed for the operator reads back as the same words in the platform's shell:
// POSIX sh (checked by running sh) and cmd.exe / CommandLineToArgvW quoting.
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { commandText, quotePosix, quoteWindows } from "../../src/lib/shell-words.ts";
import { thisCommandLine } from "../../src/cli/command-line.ts";

const WORDS = ["swtool", "sign", "--control_log_dir", "/mnt/logs dir", "--boot-banner", "it's \"up\" $HOME `x` \\n", "", "--port", "socket://127.0.0.1:4001"];

describe("shell words", () => {
  test("POSIX: sh reads every word back unchanged; plain words stay bare", () => {
    expect(commandText(WORDS, "linux")).toBe(`swtool sign --control_log_dir '/mnt/logs dir' --boot-banner 'it'\\''s "up" $HOME \`x\` \\n' '' --port socket://127.0.0.1:4001`);
    const r = spawnSync("sh", ["-c", `printf '%s\\n' ${WORDS.slice(1).map(quotePosix).join(" ")}`], { encoding: "utf8" });
    expect(r.stdout).toBe(WORDS.slice(1).map((w) => `${w}\n`).join(""));
  });

  test("Windows: double quotes, quotes escaped, backslashes doubled only before a quote", () => {
    expect(quoteWindows("C:\\swtool\\swtool.exe")).toBe("C:\\swtool\\swtool.exe");
    expect(quoteWindows("C:\\Line PC\\logs\\")).toBe('"C:\\Line PC\\logs\\\\"');
    expect(quoteWindows('say "hi"')).toBe('"say \\"hi\\""');
    expect(quoteWindows('a\\"b')).toBe('"a\\\\\\"b"');
    expect(quoteWindows("")).toBe('""');
    expect(commandText(["swtool.exe", "sign", "--port", "COM3", "--control_log_dir", "D:\\logs 2"], "win32")).toBe('swtool.exe sign --port COM3 --control_log_dir "D:\\logs 2"');
  });
});

describe("this command line", () => {
  test("compiled: the program as invoked, the command, then the canonical arguments; a --pin and its value are dropped", () => {
    expect(thisCommandLine(["sign"], ["--pin", "1234", "--pin=5678", "--port", "COM3"], ["bun", "/$bunfs/root/swtool", "sign", "--PIN", "1234"], "./swtool")).toEqual(["./swtool", "sign", "--port", "COM3"]);
    expect(thisCommandLine(["sign"], [], ["bun", "B:/~BUN/root/swtool.exe", "sign"], "C:\\swtool.exe")).toEqual(["C:\\swtool.exe", "sign"]);
    // After `--` every word is kept as it is.
    expect(thisCommandLine(["sign"], ["--port", "COM3", "--", "--pin"], ["bun", "/$bunfs/root/swtool"], "./swtool")).toEqual(["./swtool", "sign", "--port", "COM3", "--", "--pin"]);
  });

  test("from source: bun and the entry file", () => {
    expect(thisCommandLine(["sign"], ["--port", "/dev/ttyUSB0"], ["/usr/bin/bun", "/repo/src/main.ts", "sign", "--Port", "/dev/ttyUSB0"], "bun")).toEqual(["/usr/bin/bun", "/repo/src/main.ts", "sign", "--port", "/dev/ttyUSB0"]);
  });

  test("the words the flag check spelled: `--Pin 1234` never reaches a printed command, `--dsn_template` is replaced for the one board", async () => {
    const { checkFlags } = await import("../../src/cli/run.ts");
    const { signArgs } = await import("../../src/cli/sign/args.ts");
    const { reprovisionCommand } = await import("../../src/device/rerun.ts");
    const canonical = checkFlags(["--Pin", "1234", "--dsn_template", "SN{seq:7}", "--Count", "5", "--port", "/dev/ttyUSB0", "-p", "TEST_DAK_X"], signArgs, ["sign"]);
    const line = thisCommandLine(["sign"], canonical, ["bun", "/$bunfs/root/swtool"], "swtool");
    expect(line).toEqual(["swtool", "sign", "--dsn-template", "SN{seq:7}", "--count", "5", "--port", "/dev/ttyUSB0", "--product", "TEST_DAK_X"]);
    expect(reprovisionCommand(line, { port: "/dev/ttyUSB1", dsn: "SN0000042" }, "linux")).toBe("swtool sign --product TEST_DAK_X --port /dev/ttyUSB1 --dsn SN0000042 --count 1");
  });
});
