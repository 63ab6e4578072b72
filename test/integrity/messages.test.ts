// Errors that used to say nothing, each now one line with the cause and the fix, asserted
// exactly through the CLI: the strict control-log reader (truncated, BOM, duplicate keys,
// empty), upload refusing a log that is not complete and valid before it connects, `--port ""`.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { swtool } from "../helpers/cli.ts";
import { makeEntry, makeTestLine } from "../controllog/fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const dir = scratchDir("messages");
let entry: ControlLogEntry;
let good: string;
beforeAll(async () => {
  entry = await makeEntry(makeTestLine());
  good = formatControlLog([entry]);
});
let n = 0;
const logFile = (text: string | Buffer) => {
  const path = join(dir, `C_CONTROL_LOG_2026112112${String(++n).padStart(4, "0")}.txt`);
  writeFileSync(path, text);
  return path;
};

const BOM_FIX = "  fix: save the file as UTF-8 without a BOM (an editor added it), or take the original from the line PC\n";
const DUP_FIX = "  fix: the file was edited or merged by hand: take the original from the line PC, or rebuild it with swtool consolidate\n";
const TRUNC_FIX = "  fix: the file was cut short (a full disk, a copy stopped early): take it again from the line PC, or from a backup\n";

describe("swtool verify reads control logs strictly", () => {
  test("a truncated log is called truncated", async () => {
    const path = logFile(good.slice(0, 300));
    expect(await swtool(["verify", path])).toEqual({ code: 1, stdout: "", stderr: `error: ${path}: truncated (the JSON ends unfinished after 300 characters)\n${TRUNC_FIX}` });
  });

  test('{"controlLogs":[]} is refused, not OK', async () => {
    const path = logFile('{"controlLogs":[]}');
    expect(await swtool(["verify", path])).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: ${path}: the control log holds no entries ("controlLogs" is empty)\n  fix: an empty log proves nothing and Amazon refuses it: give the log the line wrote for the device\n`,
    });
  });

  test("a UTF-8 BOM is named", async () => {
    const path = logFile(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]));
    expect(await swtool(["verify", path])).toEqual({ code: 1, stdout: "", stderr: `error: ${path}: starts with a UTF-8 byte order mark (BOM), which Amazon's reader refuses\n${BOM_FIX}` });
  });

  test("a second, empty controlLogs key is refused by name", async () => {
    const path = logFile(good.replace(/\n}\n$/, ',\n  "controlLogs": []\n}\n'));
    expect(await swtool(["verify", path])).toEqual({
      code: 1,
      stdout: "",
      stderr: `error: ${path}: the key "controlLogs" appears twice in one object (a reader would silently keep only the last)\n${DUP_FIX}`,
    });
  });

  test("a duplicate key inside an entry too", async () => {
    const path = logFile(good.replace('"version": "4-0-1",', '"version": "4-0-1",\n      "version": "4-0-2",'));
    expect((await swtool(["verify", path])).stderr).toBe(`error: ${path}: the key "version" appears twice in one object (a reader would silently keep only the last)\n${DUP_FIX}`);
  });

  test("the valid log still verifies", async () => {
    expect((await swtool(["verify", logFile(good)])).code).toBe(0);
  });
});

describe("consolidate uses the same reader", () => {
  test("BOM, duplicate keys and truncation are listed as invalid, nothing written", async () => {
    const sub = mkdtempSync(join(dir, "logs-"));
    const bom = join(sub, "C_CONTROL_LOG_20261121000001.txt");
    const dup = join(sub, "C_CONTROL_LOG_20261121000002.txt");
    const cut = join(sub, "C_CONTROL_LOG_20261121000003.txt");
    writeFileSync(bom, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(good)]));
    writeFileSync(dup, good.replace(/\n}\n$/, ',\n  "controlLogs": []\n}\n'));
    writeFileSync(cut, good.slice(0, 200));
    const out = join(dir, "batch.txt");
    const r = await swtool(["consolidate", sub, "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`invalid: ${bom}: control log: starts with a UTF-8 byte order mark (BOM), which Amazon's reader refuses\n`);
    expect(r.stderr).toContain(`invalid: ${dup}: control log: the key "controlLogs" appears twice in one object (a reader would silently keep only the last)\n`);
    expect(r.stderr).toContain(`invalid: ${cut}: control log: truncated (the JSON ends unfinished after 200 characters)\n`);
    expect(() => readFileSync(out)).toThrow();
  });
});

describe("upload validates the whole log before it connects", () => {
  // Nothing listens on port 9: a refusal that came after connecting would name the connection.
  const upload = (file: string) => swtool(["upload", file, "--host", "127.0.0.1", "--port", "9", "--user", "u", "--key", join(dir, "no-key"), "--host-key", `SHA256:${"A".repeat(43)}`]);
  const FIX = "  fix: nothing was sent: consolidate the device logs again (swtool consolidate) and send the new file\n";

  test("a truncated log (the full-disk case) is refused", async () => {
    const path = logFile(good.slice(0, 250));
    expect(await upload(path)).toEqual({ code: 1, stdout: "", stderr: `error: refusing to send ${path}: control log: truncated (the JSON ends unfinished after 250 characters)\n${FIX}` });
  });

  test("an empty log, and an entry whose chain does not verify", async () => {
    const empty = logFile('{"controlLogs": []}');
    expect(await upload(empty)).toEqual({ code: 1, stdout: "", stderr: `error: refusing to send ${empty}: the control log holds no entries ("controlLogs" is empty)\n${FIX}` });
    const other = await makeEntry(makeTestLine());
    const mixed = logFile(formatControlLog([{ ...entry, p256r1Chain: other.p256r1Chain }]));
    const r = await upload(mixed);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`error: refusing to send ${mixed}: control log: controlLogs[0]`);
    expect(r.stderr).toEndWith(`\n${FIX}`);
  });
});

describe('--port ""', () => {
  const FIX = "  fix: give the fixture's port, e.g. /dev/ttyUSB0, COM3 or socket://host:port (`swtool ports` lists the serial ports)\n";
  test("device probe and the line refuse it as a usage error", async () => {
    expect(await swtool(["device", "probe", "--port", ""])).toEqual({ code: 2, stdout: "", stderr: `error: --port "" names no port\n${FIX}` });
    const line = await swtool(
      ["sign", "-p", "TEST_DAK_LINE", "-c", "http://127.0.0.1:9", "--port", "", "-d", "A17XHX23H06INH", "-a", "pd25", "--app_server_public_key", "00".repeat(32), "--control_log_dir", dir],
      { env: { SWTOOL_HSM_PIN: "x" } },
    );
    expect(line).toEqual({ code: 2, stdout: "", stderr: `error: --port "" names no port\n${FIX}` });
  });
});
