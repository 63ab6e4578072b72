// The operator's view, drawn into a small terminal emulator (cursor moves, erase, auto-wrap at
// the width, as a real terminal does): rows keep their last result until the next board
// starts, failures show what to do with the board, the block is cut to the width and never
// leaves stale rows, also after a resize; without a TTY one line per event.
import { describe, expect, test } from "bun:test";
import { cut, lineReporter, summaryLines } from "../../src/cli/line-view.ts";
import type { LineEvent } from "../../src/device/line.ts";

/** Enough of a VT100 for the view: printable text with auto-wrap, LF, CSI n F, CSI J, CSI 2J, CSI H, SGR. */
class Screen {
  lines: string[] = [""];
  row = 0;
  col = 0;
  constructor(public width: number) {}
  write(data: string): void {
    for (let i = 0; i < data.length; i++) {
      const ch = data[i]!;
      if (ch === "\x1b") {
        const m = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(data.slice(i));
        if (!m) continue;
        i += m[0].length - 1;
        const n = Number(m[1] || "1");
        if (m[2] === "F") [this.row, this.col] = [Math.max(0, this.row - n), 0];
        else if (m[2] === "J" && m[1] === "2") this.lines = this.lines.map(() => "");
        else if (m[2] === "J") {
          this.lines[this.row] = this.lines[this.row]!.slice(0, this.col);
          this.lines.length = this.row + 1;
        } else if (m[2] === "H") [this.row, this.col] = [0, 0];
        continue;
      }
      if (ch === "\n") {
        this.row++;
        this.col = 0;
        while (this.lines.length <= this.row) this.lines.push("");
        continue;
      }
      if (this.col >= this.width) {
        // Auto-wrap: a line longer than the terminal spills onto the next row.
        this.row++;
        this.col = 0;
        while (this.lines.length <= this.row) this.lines.push("");
      }
      const l = this.lines[this.row]!.padEnd(this.col);
      this.lines[this.row] = l.slice(0, this.col) + ch + l.slice(this.col + 1);
      this.col++;
    }
  }
  text(): string[] {
    return this.lines.map((l) => l.trimEnd()).filter((l, i, a) => l !== "" || i < a.length - 1);
  }
}

const PORTS = ["/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A9XK3L2M-if00-port0", "/dev/ttyUSB1"];
const done = (port: string, dsn: string, n: number): LineEvent => ({ type: "device-done", port, dsn, smsn: "ab".repeat(32), controlLog: `/var/lib/swtool/logs/C_CONTROL_LOG_20261201120000_${n}.txt`, seconds: 2.4, retries: 0, restarts: 0, wastedSignatures: 0, provisioned: n, failed: 0, signatures: 2 * n, dakUsed: 2 * n });
const failed = (port: string, dsn: string, action: string): LineEvent => ({ type: "device-failed", port, dsn, smsn: "cd".repeat(32), step: "store", error: "store: the device answered `cert store` with ERROR -1 GENERIC", board: "no-certificate", action, wastedSignatures: 0, provisioned: 1, failed: 1, signatures: 4, dakUsed: 4 });

function view(width: number) {
  const screen = new Screen(width);
  let resize: () => void = () => {};
  const reporter = lineReporter("tty", PORTS, {
    count: 10,
    maxSignatures: 1000,
    write: (t) => screen.write(t),
    columns: () => screen.width,
    color: true,
    onResize: (redraw) => ((resize = redraw), () => {}),
    tick: () => () => {},
  });
  return { screen, reporter, resize: (w: number) => ((screen.width = w), resize()) };
}

describe("TTY view", () => {
  test("rows keep their last result and the failure's action; 80 columns, cut not wrapped; no stale rows", () => {
    const { screen, reporter } = view(80);
    for (const p of PORTS) reporter.onEvent({ type: "port-open", port: p });
    reporter.onEvent({ type: "device-start", port: PORTS[0]!, dsn: "SN0000001", smsn: "ab".repeat(32) });
    for (const step of ["init", "smsn", "sign", "chain-ed25519", "store"] as const) reporter.onEvent({ type: "step", port: PORTS[0]!, dsn: "SN0000001", step });
    reporter.onEvent(done(PORTS[0]!, "SN0000001", 1));
    reporter.onEvent({ type: "waiting", port: PORTS[0]!, for: "board-removed", text: "done: take the board out (or the next one's boot banner)" });
    reporter.onEvent({ type: "device-start", port: PORTS[1]!, dsn: "SN0000002", smsn: "cd".repeat(32) });
    reporter.onEvent(failed(PORTS[1]!, "SN0000002", "rework: board holds no certificate"));
    reporter.onEvent({ type: "waiting", port: PORTS[1]!, for: "next-board", text: "empty: put in the next board" });
    reporter.onEvent({ type: "hsm", state: "unreachable", since: new Date().toISOString(), message: "HSM unreachable since 14:02:11; line paused" });
    reporter.finish();
    const lines = screen.text();
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(79);
    // The block is on screen once: no stale header or rows from earlier redraws.
    const block = lines.slice(-5);
    expect(lines.filter((l) => l.startsWith("1/10 ok · 1 failed")).length).toBe(1);
    expect(block[0]).toMatch(/^1\/10 ok · 1 failed · yield 50\.0% · 00:00:00 · \d+\/h$/);
    expect(block[1]).toBe("HSM unreachable since 14:02:11; line paused");
    expect(block[2]).toBe("DAK signatures 4 used per key · 996 left of 1000");
    expect(block[3]).toBe("…3L2M-if00-port0      1/0 100%  PASS SN0000001 2.4 s · done: take the board out");
    expect(block[4]).toBe("ttyUSB1               0/1   0%  FAIL SN0000002 rework: board holds no certifica");
    // The failure also went above the block, into the scroll-back, with its action.
    expect(lines.filter((l) => l.startsWith("FAIL /dev/ttyUSB1 SN0000002 at store: rework: board holds no certificate")).length).toBe(1);
    // The next board clears the row's last result.
    reporter.onEvent({ type: "device-start", port: PORTS[1]!, dsn: "SN0000003", smsn: "ef".repeat(32) });
    expect(screen.text().at(-1)).toContain("SN0000003 init (1/12)");
    expect(screen.text().at(-1)).not.toContain("FAIL");
  });

  test("a fixture stopped by boards failing in a row says so in its row, also after its port closed", () => {
    const { screen, reporter } = view(80);
    for (const p of PORTS) reporter.onEvent({ type: "port-open", port: p });
    reporter.onEvent(failed(PORTS[1]!, "SN0000002", "rework: board holds no certificate"));
    const last = "smsn: the device answered `cert smsn` with ERROR -11 INVALID_ARGS";
    const message = `fixture ${PORTS[1]}: 5 boards failed in a row (last: ${last}); check the fixture and firmware, then restart`;
    reporter.onEvent({ type: "fixture-stopped", port: PORTS[1]!, failures: 5, last, message });
    reporter.onEvent({ type: "port-closed", port: PORTS[1]! });
    reporter.finish();
    const lines = screen.text();
    expect(lines.at(-1)).toBe("ttyUSB1               0/1   0%  STOPPED: 5 failed in a row (smsn: the device an");
    // The whole message went above the block, into the scroll-back, once.
    expect(lines.filter((l) => l.startsWith("FIXTURE STOPPED: fixture /dev/ttyUSB1: 5 boards failed in a row (last: smsn: ")).length).toBe(1);
  });

  test("a resize to 60 columns redraws the block once, cut to the new width", () => {
    const { screen, reporter, resize } = view(80);
    for (let n = 1; n <= 5; n++) reporter.onEvent(done(PORTS[n % 2]!, `SN000000${n}`, n));
    resize(60);
    reporter.onEvent(done(PORTS[0]!, "SN0000006", 6));
    const lines = screen.text();
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(59);
    expect(lines.filter((l) => l.startsWith("6/10 ok")).length).toBe(1);
    expect(lines.filter((l) => l.startsWith("5/10 ok")).length).toBe(0);
    expect(lines.filter((l) => l.startsWith("ttyUSB1 ")).length).toBe(1);
  });

  test("the clock and rate move each second while nothing happens, the DAK line counts the ledger's signatures before the first board, finish stops the clock", () => {
    const screen = new Screen(80);
    let t = Date.parse("2026-12-01T12:00:00Z");
    let tick = () => {};
    let ticking = false;
    const reporter = lineReporter("tty", PORTS, {
      count: 10,
      maxSignatures: 2000,
      write: (text) => screen.write(text),
      columns: () => screen.width,
      color: false,
      onResize: () => () => {},
      now: () => t,
      tick: (redraw) => ((tick = redraw), (ticking = true), () => void (ticking = false)),
    });
    for (const p of PORTS) reporter.onEvent({ type: "port-open", port: p });
    reporter.signaturesBefore!(1200);
    expect(screen.text().slice(-5)).toEqual([
      "0/10 ok · 0 failed · yield - · 00:00:00 · 0/h",
      "HSM ok",
      "DAK signatures 1200 used per key · 800 left of 2000",
      "…3L2M-if00-port0      0/0    -  open",
      "ttyUSB1               0/0    -  open",
    ]);
    // A long pause: no event, the clock still moves.
    t += 61_000;
    tick();
    expect(screen.text().slice(-5)[0]).toBe("0/10 ok · 0 failed · yield - · 00:01:01 · 0/h");
    reporter.onEvent({ ...(done(PORTS[0]!, "SN0000001", 1) as Extract<LineEvent, { type: "device-done" }>), dakUsed: 1201 });
    t += 3600_000 - 61_000;
    tick();
    const lines = screen.text();
    expect(lines.slice(-5)).toEqual([
      "1/10 ok · 0 failed · yield 100.0% · 01:00:00 · 1/h",
      "HSM ok",
      "DAK signatures 1201 used per key · 799 left of 2000",
      "…3L2M-if00-port0      1/0 100%  PASS SN0000001 2.4 s · open",
      "ttyUSB1               0/0    -  open",
    ]);
    expect(lines.filter((l) => l.startsWith("0/10 ok") || l.startsWith("1/10 ok")).length).toBe(1);
    expect(ticking).toBe(true);
    reporter.finish();
    expect(ticking).toBe(false);
  });

  test("cut keeps colour codes and closes them; width counts visible characters", () => {
    expect(cut("\x1b[1;32mPASS\x1b[0m SN1 abcdef", 8)).toBe("\x1b[1;32mPASS\x1b[0m SN1");
    expect(cut("\x1b[1;31mFAILED-LONG", 4)).toBe("\x1b[1;31mFAIL\x1b[0m");
  });
});

describe("without a TTY", () => {
  test("one line per event (no step lines), and the summary lists every failed DSN with step and action", () => {
    const out: string[] = [];
    const reporter = lineReporter("plain", PORTS, { write: (t) => out.push(t), now: () => Date.parse("2026-12-01T12:00:00Z") });
    reporter.onEvent({ type: "device-start", port: PORTS[1]!, dsn: "SN0000002", smsn: "cd".repeat(32) });
    reporter.onEvent({ type: "step", port: PORTS[1]!, dsn: "SN0000002", step: "sign" });
    reporter.onEvent(failed(PORTS[1]!, "SN0000002", "rework: board holds no certificate"));
    reporter.onEvent({ type: "stopping", reason: "signal", inFlight: 2, message: "stopping: finishing 2 devices (Ctrl-C again to abort them)" });
    expect(out).toEqual([
      `2026-12-01T12:00:00.000Z /dev/ttyUSB1 SN0000002 started (SMSN cdcdcdcdcdcdcdcd…)\n`,
      "2026-12-01T12:00:00.000Z /dev/ttyUSB1 FAIL SN0000002 at store: rework: board holds no certificate (store: the device answered `cert store` with ERROR -1 GENERIC)\n",
      "2026-12-01T12:00:00.000Z stopping: finishing 2 devices (Ctrl-C again to abort them)\n",
    ]);
    const lines = summaryLines({
      provisioned: 1, failed: 1, refused: 0, signatures: 4, wastedSignatures: 2, dakUsed: 1204, seconds: 10, devicesPerHour: 360, stoppedBy: "signal",
      perPort: { [PORTS[1]!]: { provisioned: 1, failed: 1 } },
      failures: [{ port: PORTS[1]!, dsn: "SN0000002", smsn: "cd".repeat(32), step: "store", error: "x", action: "rework: board holds no certificate" }],
    });
    expect(lines).toEqual([
      "1 provisioned, 1 failed, 0 refused in 10.0 s (360 devices/h); stopped by signal",
      "DAK signatures: 4 made (both keys), 2 wasted by reboots; the ledger counts 1204 per DAK key",
      "  /dev/ttyUSB1: 1 ok, 1 failed, yield 50.0%",
      "failed devices (1):",
      "  SN0000002  /dev/ttyUSB1  at store: rework: board holds no certificate",
    ]);
  });
});

describe("TTY view with the operator typing", () => {
  test("a line the terminal echoed under the block is drawn over, not left as a stale copy", () => {
    const { screen, reporter } = view(80);
    reporter.onEvent(done(PORTS[0]!, "SN0000001", 1));
    // The operator scans a DSN: the terminal echoes it and the newline below the block.
    screen.write("SCAN0002\n");
    reporter.typed!();
    reporter.onEvent(done(PORTS[1]!, "SN0000002", 2));
    const lines = screen.text();
    expect(lines.filter((l) => l.startsWith("1/10 ok")).length).toBe(0);
    expect(lines.filter((l) => l.startsWith("2/10 ok")).length).toBe(1);
    expect(lines.filter((l) => l.startsWith("SCAN0002")).length).toBe(0);
  });
});
