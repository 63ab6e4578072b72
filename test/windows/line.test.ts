// The production line on Windows: dist/swtool.exe under Wine, two COM ports (COM5, and COM12,
// which only opens as \\.\COM12) mapped to pseudo-terminals of the project's device simulator
// with noise, three devices on each; every device ends provisioned, with its control log (in a
// folder whose path has a space, given as a drive-letter path) and a `provisioned` ledger row.
// Also: `ports` from the registry, the DSN list with CRLF line endings, `verify` and `ledger`
// on the exe, the end of the shift (consolidate with the ledger, --new-only, import-csv, upload
// and feedback against a real sshd), and Ctrl-C (SIGINT to the Wine process) stopping the line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { toHex } from "../../src/lib/bytes.ts";
import { readUntil, spawnSwtoolServer } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APID, APP_KEY, DEVICE_TYPE } from "../device/station.ts";
import { startSshd, type Sshd } from "../upload/sshd.ts";
import { exe, mapComPorts, PREFIX, registerUsbAdapter, skipReason, spawnExe, stopWineserver, win } from "./wine.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const suite = skipReason ? describe.skip : describe;
const env = { SWTOOL_HSM_PIN: TEST_PIN };

let hsm: LoadedHsm;
let sshd: Sshd;
let dir: string;
const simulators: ReturnType<typeof Bun.spawn>[] = [];
let lineFixtures: string[] = [];
let slowFixture = "";

beforeAll(async () => {
  if (skipReason) return;
  [hsm, sshd] = await Promise.all([startLoadedHsm("TEST_DAK_WINDOWS"), startSshd()]);
  dir = scratchDir("win-line");
  // Three boards per fixture, so with --count 6 each port provisions exactly three.
  const line = await spawnSwtoolServer(["device", "simulate", "--pty", "--fixtures", "2", "--count", "3", "--noise", "--json"]);
  const slow = await spawnSwtoolServer(["device", "simulate", "--pty", "--realistic", "--noise", "--json"]);
  simulators.push(line.proc, slow.proc);
  lineFixtures = line.first.ports as string[];
  slowFixture = (slow.first.ports as string[])[0]!;
  mapComPorts({ COM5: lineFixtures[0]!, COM12: lineFixtures[1]!, COM7: slowFixture });
  registerUsbAdapter("COM7", { vid: "10C4", pid: "EA60", serial: "FIXTURE07", mfg: "Silicon Labs" });
}, 120_000);

afterAll(async () => {
  if (skipReason) return;
  for (const p of simulators) p.kill();
  await Promise.all(simulators.map((p) => p.exited));
  await Promise.all([hsm.stop(), sshd.stop()]);
  stopWineserver();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const lineArgs = (logs: string) => [
  "sign", "-p", hsm.productTag, "-c", hsm.url, "-d", DEVICE_TYPE, "-a", APID, "--app_server_public_key", toHex(APP_KEY),
  "--control_log_dir", win(logs),
];

let shift: { logs: string; rows: (LedgerRow & { smsn: string })[] } | undefined;

interface LedgerRow {
  port: string;
  dsn: string;
  result: string;
  controlLog?: string;
  failedStep?: string;
}

suite("swtool.exe on a Windows line PC (Wine)", () => {
  test("ports: the COM ports come from HKLM\\HARDWARE\\DEVICEMAP\\SERIALCOMM (the Windows code path)", async () => {
    const r = await exe(["ports", "--json"]);
    expect(r.code).toBe(0);
    const ports = (JSON.parse(r.stdout) as Record<string, string | undefined>[]).filter((p) => p.path !== "COM1");
    // Wine's mount manager names the device \Device\SerialN-1, as serial.sys does; COM7 is also
    // in the device tree as a CP210x, so it has USB ids and a serial number.
    expect(ports.map((p) => [p.path, p.pnpId, p.vendorId, p.productId, p.serialNumber, p.manufacturer])).toEqual([
      ["COM5", "\\Device\\Serial4", undefined, undefined, undefined, undefined],
      ["COM7", "USB\\VID_10C4&PID_EA60\\FIXTURE07", "10c4", "ea60", "FIXTURE07", "Silicon Labs"],
      ["COM12", "\\Device\\Serial11", undefined, undefined, undefined, undefined],
    ]);
  }, 60_000);

  test("the line over COM5 and COM12: 3 devices on each, every one provisioned with its control log and ledger row", async () => {
    const logs = join(dir, "line logs");
    mkdirSync(logs);
    // A DSN list written on Windows: CRLF line endings, a trailing blank line.
    const dsns = ["WSN0001", "WSN0002", "WSN0003", "WSN0004", "WSN0005", "WSN0006"];
    const dsnFile = join(dir, "dsns.txt");
    writeFileSync(dsnFile, dsns.join("\r\n") + "\r\n\r\n");
    const r = await exe([...lineArgs(logs), "--port", "COM5", "--port", "COM12", "--dsn-file", win(dsnFile), "--count", "6"], { env, timeoutMs: 120_000 });
    if (r.code !== 0) console.log(r.stderr, r.stdout);
    expect(r.stderr).not.toContain("FAILED");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^6 provisioned, 0 failed, 0 refused in /);

    const ledger = await exe(["ledger", "--ledger", win(join(logs, "swtool.db")), "--json"]);
    expect(ledger.code).toBe(0);
    const rows = JSON.parse(ledger.stdout) as LedgerRow[];
    expect(rows.map((a) => a.result)).toEqual(Array(6).fill("provisioned"));
    expect(rows.map((a) => a.dsn).sort()).toEqual(dsns);
    expect(rows.filter((a) => a.port === "COM5")).toHaveLength(3);
    expect(rows.filter((a) => a.port === "COM12")).toHaveLength(3);
    // Crash recovery's process identity on Windows: the creation time (FILETIME) with the pid.
    expect(rows.every((a) => /^\d{17,}$/.test((a as { pidStart?: string }).pidStart ?? ""))).toBe(true);
    const files = readdirSync(logs).filter((f) => f.startsWith("C_CONTROL_LOG_")).sort();
    expect(files).toHaveLength(6);
    expect(rows.map((a) => a.controlLog!.slice(win(logs).length + 1)).sort()).toEqual(files);
    expect(readdirSync(logs).filter((f) => f.startsWith(".swtool-"))).toEqual([]);

    // Every control log's chains verify, read back by the exe from a path with a space.
    for (const file of files) {
      const v = await exe(["verify", win(join(logs, file)), "--json"]);
      expect(v.code).toBe(0);
    }
    shift = { logs, rows: rows as (LedgerRow & { smsn: string })[] };
  }, 240_000);

  test("end of shift: consolidate with the ledger, --new-only, import-csv, upload and feedback (real sshd)", async () => {
    if (!shift) throw new Error("needs the line test's logs");
    const { logs, rows } = shift;
    const ledgerPath = win(join(logs, "swtool.db"));
    const out = join(dir, "shift out");
    mkdirSync(out);
    const batch = join(out, "C_CONTROL_LOG_SHIFT1.txt");
    const c = await exe(["consolidate", win(logs), "-o", win(batch)]);
    expect(c.code).toBe(0);
    expect(c.stdout).toBe(`${win(batch)}\n`);
    expect(c.stderr).toContain(`ledger ${ledgerPath}: 6 devices recorded as in ${win(batch)}`);
    expect(c.stderr).toContain("read 6 files, 6 entries: 6 devices, 0 duplicates merged, 0 invalid, 0 conflicts");
    const again = await exe(["consolidate", win(logs), "--new-only", "-o", win(join(out, "second.txt"))]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("nothing new to consolidate; no file written");
    expect(readdirSync(out)).toEqual(["C_CONTROL_LOG_SHIFT1.txt"]);
    // Both runs removed their scratch folders (SMSN index, ledger spool) from the user's Temp.
    const users = join(PREFIX, "drive_c", "users");
    const scratch = readdirSync(users).flatMap((u) => (existsSync(join(users, u, "Temp")) ? readdirSync(join(users, u, "Temp")) : []));
    expect(scratch.filter((n) => n.startsWith("swtool-consolidate-") || n.startsWith("swtool-index-"))).toEqual([]);

    const csv = join(out, "devices.csv");
    const imp = await exe(["import-csv", "--from", ledgerPath, "-o", win(csv)]);
    expect(imp.code).toBe(0);
    const csvLines = readFileSync(csv, "utf8").split(/\r?\n/).filter(Boolean);
    expect(csvLines[0]).toBe("smsn");
    expect(csvLines.slice(1).sort()).toEqual(rows.map((r) => r.smsn).sort());

    const ssh = ["--host", "127.0.0.1", "--port", String(sshd.port), "--user", sshd.user, "--key", win(sshd.clientKey), "--host-key", sshd.hostFingerprint];
    const up = await exe(["upload", win(batch), ...ssh, "--remote-dir", sshd.uploadDir, "--ledger", ledgerPath]);
    expect(up.code).toBe(0);
    expect(readFileSync(join(sshd.uploadDir, "C_CONTROL_LOG_SHIFT1.txt"))).toEqual(readFileSync(batch));

    const header = "Record Id,ProductInstanceIdentifier,ProductIdentifier,Status,Error Details\r\n";
    const row = (smsn: string, i: number) => `${i},"{""serialNumber"":""${smsn}""}","{""advertisedProductId"":""pd25""}",SUCCESS,\r\n`;
    writeFileSync(join(sshd.feedbackDir, "fb_shift1.csv"), header + rows.map((r, i) => row(r.smsn, i + 1)).join(""));
    const fbDir = join(out, "feedback");
    const fb = await exe(["feedback", ...ssh, "--remote-dir", sshd.feedbackDir, "--out", win(fbDir), "--ledger", ledgerPath]);
    expect(fb.stderr).toContain(`downloaded ${win(join(fbDir, "fb_shift1.csv"))}`);
    expect(fb.code).toBe(0);
    for (const r of rows) expect(fb.stdout).toContain(`${r.smsn} ${r.dsn} OK SUCCESS\n`);
  }, 180_000);

  test("Ctrl-C (SIGINT to the Wine process) during a line run: the device in flight finishes, summary, no attempt left open", async () => {
    const logs = join(dir, "interrupted");
    mkdirSync(logs);
    // The fixture by its adapter's USB serial number, as after a re-plug it may come back as another COM port.
    const station = spawnExe([...lineArgs(logs), "--port", "usb:FIXTURE07", "--dsn-template", "INT{seq:4}", "--json"], { env });
    let { seen, reader } = await readUntil(station.stdout, '"step":"chain-ed25519"');
    station.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    const code = await station.exited;
    const events = seen.trim().split(/\r?\n/).map((l) => JSON.parse(l) as Record<string, unknown>);
    // The console control event Wine raises for SIGINT reaches the line as Ctrl-C does on Windows.
    expect(events.find((e) => e.type === "stopping")).toMatchObject({ reason: "signal", inFlight: 1, message: "stopping: finishing 1 device (Ctrl-C again to abort them)" });
    expect(events.at(-1)).toMatchObject({ type: "summary", provisioned: 1, failed: 0, stoppedBy: "signal" });
    expect(code).toBe(0);
    const ledger = JSON.parse((await exe(["ledger", "--ledger", win(join(logs, "swtool.db")), "--json"])).stdout) as LedgerRow[];
    expect(ledger.map((a) => [a.dsn, a.result])).toEqual([["INT0001", "provisioned"]]);
    expect(readdirSync(logs).filter((f) => f.startsWith("C_CONTROL_LOG_"))).toHaveLength(1);
  }, 120_000);
});
