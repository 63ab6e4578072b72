// The report: a ledger held locked for a few seconds made a provisioned board (control
// log written) "failed at init". Now the line waits: another process holds the SQLite ledger
// with BEGIN EXCLUSIVE for 7 s (longer than the 5 s busy timeout) mid-run; every board ends
// provisioned with its control log and its ledger row, none failed, and the line said it paused.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { openLedger } from "../../src/ledger/ledger.ts";
import { controlLogs, runStation, tempDir } from "../device/station.ts";
import { REPO } from "../helpers/vectors.ts";

test("a ledger locked by another process for 7 s: the line pauses, nothing is mislabelled", async () => {
  const dir = tempDir();
  const path = join(dir, "swtool.db");
  const ledger = await openLedger(path);
  let locker: ReturnType<typeof Bun.spawn> | undefined;
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(${JSON.stringify(path)});
    db.exec("BEGIN EXCLUSIVE");
    process.stdout.write("locked\\n");
    await Bun.sleep(7000);
    db.exec("COMMIT");
    db.close();
  `;
  const run = await runStation(
    { transport: "pty", fixtures: 2, count: 6 },
    {
      dir,
      ledger,
      count: 6,
      onEvent: (e) => {
        if (e.type === "device-done" && e.provisioned === 2 && !locker) locker = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit", cwd: REPO });
      },
    },
  );
  await locker?.exited;
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
