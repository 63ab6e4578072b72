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
  test("compiled: the program as invoked, then the arguments; a --pin and its value are dropped", () => {
    expect(thisCommandLine(["bun", "/$bunfs/root/swtool", "sign", "--pin", "1234", "--pin=5678", "--port", "COM3"], "./swtool")).toEqual(["./swtool", "sign", "--port", "COM3"]);
    expect(thisCommandLine(["bun", "B:/~BUN/root/swtool.exe", "sign"], "C:\\swtool.exe")).toEqual(["C:\\swtool.exe", "sign"]);
  });

  test("from source: bun and the entry file", () => {
    expect(thisCommandLine(["/usr/bin/bun", "/repo/src/main.ts", "sign", "--port", "/dev/ttyUSB0"], "bun")).toEqual(["/usr/bin/bun", "/repo/src/main.ts", "sign", "--port", "/dev/ttyUSB0"]);
  });
});
