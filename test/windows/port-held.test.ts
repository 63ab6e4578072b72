// Two swtool.exe on one COM port under Wine. On Windows the binding opens a COM port with
// CreateFileW and share mode 0, and serial.sys answers a second open with ERROR_ACCESS_DENIED,
// which swtool words as "COM5 is in use by another program ..." (test/transport/
// windows-binding.test.ts). Wine 8 does not enforce the share mode on its pty-backed COM ports
// between two processes of one prefix: the second swtool.exe opens COM5 and talks to the board
// the first one is provisioning. This test pins what Wine does, so that a Wine that starts to
// refuse shows here (then assert the refusal line instead).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "../../src/lib/bytes.ts";
import { readUntil, spawnSwtoolServer } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { tempDir } from "../helpers/temp.ts";
import { APID, APP_KEY, DEVICE_TYPE } from "../device/station.ts";
import { exe, mapComPorts, skipReason, spawnExe, stopWineserver, win } from "./wine.ts";

const suite = skipReason ? describe.skip : describe;
let hsm: LoadedHsm;
let dir: string;
let fixture: ReturnType<typeof Bun.spawn> | undefined;

beforeAll(async () => {
  if (skipReason) return;
  hsm = await startLoadedHsm("TEST_DAK_WINHELD");
  dir = tempDir("win-held");
  // --realistic: the holder's first device takes seconds, long enough to try the port meanwhile.
  const sim = await spawnSwtoolServer(["device", "simulate", "--pty", "--realistic", "--json"]);
  fixture = sim.proc;
  mapComPorts({ COM5: (sim.first.ports as string[])[0]! });
}, 120_000);

afterAll(async () => {
  if (skipReason) return;
  fixture?.kill();
  await fixture?.exited;
  await hsm.stop();
  stopWineserver();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

suite("a COM port held by another swtool.exe (Wine)", () => {
  test("while a line run has COM5 open, a second swtool.exe opens COM5 too: Wine ignores share mode 0 for serial ports", async () => {
    const holder = spawnExe(
      ["sign", "-p", hsm.productTag, "-c", hsm.url, "-d", DEVICE_TYPE, "-a", APID, "--app_server_public_key", toHex(APP_KEY),
        "--control_log_dir", win(dir), "--port", "COM5", "--dsn-template", "HLD{seq:4}", "--json"],
      { env: { SWTOOL_HSM_PIN: TEST_PIN } },
    );
    // The holder has opened COM5 (CreateFileW, share mode 0) and is on its first board.
    const { reader } = await readUntil(holder.stdout, '"type":"device-start"');
    const second = await exe(["device", "probe", "--port", "COM5"], { timeoutMs: 60_000 });
    // Not refused at the open: the probe reached the board. The two programs' commands then
    // interleave and each may read the other's answers, so the probe either gets `cert init`
    // through, or the board answers it wrongly, or the holder takes the answers and the probe
    // hears none: which one depends on timing.
    expect(second.stderr).not.toContain("in use");
    expect(second.stderr).not.toContain("cannot open");
    expect(second.stdout + second.stderr).toMatch(/^(COM5: Factory Diagnostic Firmware answers; BASE64_MTU=\d+\n|error: the device|error: COM5: the device does not answer \(3 attempts to resynchronise\)\n)/);
    holder.kill("SIGINT");
    holder.kill("SIGINT");
    while (!(await reader.read()).done);
    expect(typeof (await holder.exited)).toBe("number");
  }, 120_000);
});
