// The operator's view in a real terminal: the compiled binary runs the line inside an
// 80-column tmux window against two simulated fixtures and the HSM simulator; the captured
// screen holds the block exactly once (no stale rows from the redraws, none after a resize),
// the clock ticking while no board comes, the ledger's earlier DAK signatures,
// every line within 80 columns, each fixture's last result and the end summary.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { toHex } from "../../src/lib/bytes.ts";
import { BINARY, spawnSwtoolServer } from "../helpers/cli.ts";
import { startLoadedHsm, TEST_PIN, type LoadedHsm } from "../helpers/hsm.ts";
import { APP_KEY, APID, DEVICE_TYPE, tempDir } from "../device/station.ts";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
if (!hasTmux) console.warn("skipping the tmux view test: tmux is not installed (apt-get install tmux)");

let hsm: LoadedHsm;
const servers: ReturnType<typeof Bun.spawn>[] = [];
const session = `swtool-view-${process.pid}`;
const pausedSession = `swtool-view-paused-${process.pid}`;
beforeAll(async () => {
  if (hasTmux) hsm = await startLoadedHsm("TEST_DAK_TMUX");
});
afterAll(async () => {
  spawnSync("tmux", ["kill-session", "-t", session]);
  spawnSync("tmux", ["kill-session", "-t", pausedSession]);
  for (const p of servers) p.kill();
  await Promise.all(servers.map((p) => p.exited));
  await hsm?.stop();
});

const tmux = (...args: string[]) => spawnSync("tmux", args, { encoding: "utf8" });
const screen = (name = session) => tmux("capture-pane", "-p", "-t", name).stdout.split("\n");

describe.skipIf(!hasTmux)("the view in an 80-column terminal", () => {
  test("block drawn once, cut to 80 columns, last results kept, no stale rows after a resize; summary at the end", async () => {
    const { proc, first } = await spawnSwtoolServer(["device", "simulate", "--listen", "127.0.0.1:0", "--fixtures", "2", "--realistic", "--swap-ms", "200", "--json"]);
    servers.push(proc);
    const ports = first.ports as string[];
    const dir = tempDir();
    const command = [
      BINARY, "sign", ...ports.flatMap((p) => ["--port", p]), "-p", hsm.productTag, "-c", hsm.url,
      "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY),
      "--control_log_dir", dir, "--dsn-template", "SN{seq:7}", "--count", "8",
    ].map((a) => `'${a}'`).join(" ");
    expect(tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "30", `SWTOOL_HSM_PIN=${TEST_PIN} ${command}; echo EXIT=$?; sleep 60`).status).toBe(0);
    let resized = false;
    let lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      await Bun.sleep(100);
      lines = screen();
      if (!resized && lines.some((l) => /^\d\/8 ok/.test(l) && !l.startsWith("0/8"))) {
        // Narrower mid-run, then back: the view clears and redraws.
        tmux("resize-window", "-t", session, "-x", "64");
        await Bun.sleep(300);
        tmux("resize-window", "-t", session, "-x", "80");
        resized = true;
      }
      if (lines.some((l) => l.startsWith("EXIT="))) break;
    }
    const text = lines.join("\n");
    expect(text).toContain("EXIT=0");
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    // The final block, once: header, HSM, DAK, one row per fixture.
    expect(lines.filter((l) => l.startsWith("8/8 ok · 0 failed · yield 100.0%")).length).toBe(1);
    expect(lines.filter((l) => /^\d\/8 ok/.test(l) && !l.startsWith("8/8")).length).toBe(0);
    expect(lines.filter((l) => l === "HSM ok").length).toBe(1);
    expect(lines.filter((l) => l === "DAK signatures 8 used per key").length).toBe(1);
    for (const p of ports) {
      const name = p.replace("socket://", "");
      const rows = lines.filter((l) => l.startsWith(name.length > 16 ? `…${name.slice(-15)}` : name));
      expect(rows.length).toBe(1);
      expect(rows[0]).toMatch(/\d\/0 100%  PASS SN\d{7} /);
    }
    expect(text).toContain("8 provisioned, 0 failed, 0 refused in");
    expect(resized).toBe(true);
  }, 60_000);

  test("while no board comes, the clock ticks each second and the DAK line shows the ledger's signatures of earlier runs", async () => {
    const { proc, first } = await spawnSwtoolServer(["device", "simulate", "--listen", "127.0.0.1:0", "--json"]);
    servers.push(proc);
    const port = (first.ports as string[])[0]!;
    const dir = tempDir();
    const args = ["sign", "--port", port, "-p", hsm.productTag, "-c", hsm.url, "--device_type", DEVICE_TYPE, "--apid", APID, "--app_server_public_key", toHex(APP_KEY), "--control_log_dir", dir];
    // An earlier run on this ledger made one signature per DAK key.
    const earlier = Bun.spawn([BINARY, ...args, "--dsn-template", "SN{seq:7}", "--count", "1"], { env: { ...process.env, SWTOOL_HSM_PIN: TEST_PIN }, stdout: "ignore", stderr: "ignore" });
    expect(await earlier.exited).toBe(0);
    // Now the line waits for the operator's Enter: no event for seconds.
    const command = [BINARY, ...args, "--dsn-template", "SN{seq:7}", "--next-device", "prompt"].map((a) => `'${a}'`).join(" ");
    expect(tmux("new-session", "-d", "-s", pausedSession, "-x", "80", "-y", "30", `SWTOOL_HSM_PIN=${TEST_PIN} ${command}; echo EXIT=$?; sleep 60`).status).toBe(0);
    const headers = new Set<string>();
    let lines: string[] = [];
    for (let i = 0; i < 200 && headers.size < 3; i++) {
      await Bun.sleep(100);
      lines = screen(pausedSession);
      for (const l of lines) if (l.startsWith("0 ok · 0 failed · yield - · ")) headers.add(l);
    }
    // Three different clocks seen, all of the one block (no stale copy), rate 0/h.
    expect(headers.size).toBe(3);
    for (const h of headers) expect(h).toMatch(/^0 ok · 0 failed · yield - · 00:00:\d\d · 0\/h$/);
    expect(lines.filter((l) => l.startsWith("0 ok · ")).length).toBe(1);
    expect(lines.filter((l) => l === "DAK signatures 1 used per key").length).toBe(1);
    tmux("send-keys", "-t", pausedSession, "C-c");
    for (let i = 0; i < 100 && !lines.some((l) => l.startsWith("EXIT=")); i++) {
      await Bun.sleep(100);
      lines = screen(pausedSession);
    }
    expect(lines).toContain("EXIT=0");
  }, 60_000);
});
