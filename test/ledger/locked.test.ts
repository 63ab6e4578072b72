// The report: a ledger held locked for a few seconds made a provisioned board (control
// log written) "failed at init". Now the line waits: another process holds the SQLite ledger
// with BEGIN EXCLUSIVE for 7 s (longer than the 5 s busy timeout) mid-run; every board ends
// provisioned with its control log and its ledger row, none failed, and the line said it paused.
//
// The locker is started (and has opened the database) before the line runs, and takes the lock
// when told, once two boards are done; each board swap takes 300 ms, so the lock is held before
// the next board starts even on a loaded CI machine (a locker spawned at that moment could
// start after the whole line had finished).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { controlLogs, runStation, tempDir } from "../device/station.ts";
import { REPO } from "../helpers/vectors.ts";

async function readLine(reader: { read(): Promise<{ value?: Uint8Array; done: boolean }> }, want: string): Promise<void> {
  let text = "";
  while (!text.includes(`${want}\n`)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`locker ended before printing ${want} (printed: ${JSON.stringify(text)})`);
    text += new TextDecoder().decode(value);
  }
}

test("a ledger locked by another process for 7 s: the line pauses, nothing is mislabelled", async () => {
  const dir = tempDir();
  const path = join(dir, "swtool.db");
  const ledger = await openLedger(path);
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(${JSON.stringify(path)});
    process.stdout.write("ready\\n");
    for await (const chunk of Bun.stdin.stream()) if (new TextDecoder().decode(chunk).includes("go")) break;
    db.exec("BEGIN EXCLUSIVE");
    process.stdout.write("locked\\n");
    await Bun.sleep(7000);
    db.exec("COMMIT");
    db.close();
  `;
  const locker = Bun.spawn([process.execPath, "-e", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit", cwd: REPO });
  const out = locker.stdout.getReader();
  await readLine(out, "ready");
  let told = false;
  let locked: Promise<void> | undefined;
  const run = await runStation(
    { transport: "pty", fixtures: 2, swapMs: 300 },
    {
      dir,
      ledger,
      count: 6,
      onEvent: (e) => {
        if (e.type === "device-done" && e.provisioned === 2 && !told) {
          told = true;
          locker.stdin.write("go\n");
          locker.stdin.flush();
          locked = readLine(out, "locked");
        }
      },
    },
  );
  expect(told).toBe(true);
  await locked;
  expect(await locker.exited).toBe(0);
  const warnings = run.events.filter((e) => e.type === "warning").map((e) => (e as { message: string }).message);
  expect(warnings.some((m) => m.includes("is locked by another process") && m.includes("line paused"))).toBe(true);
  expect(warnings.some((m) => /available again after .* line resumes/.test(m))).toBe(true);
  expect(run.summary).toMatchObject({ provisioned: 6, failed: 0, refused: 0 });
  const rows = await ledger.list();
  expect(rows.map((r) => r.result)).toEqual(Array(6).fill("provisioned"));
  expect(rows.every((r) => r.controlLog !== undefined)).toBe(true);
  expect(controlLogs(dir).length).toBe(6);
  await ledger.close();
}, 90_000);
