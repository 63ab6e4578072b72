// The operator's view of a station. On a TTY: a block redrawn in place, cut (never wrapped)
// to the terminal's width, with a header (totals, yield, elapsed, rate), the HSM state, the
// DAK signatures used and left, and one row per fixture keeping its last result (PASS/FAIL in
// colour, the DSN, what to do with a failed board) until its next board starts, then what it
// is waiting for. Warnings and failures are also printed above the block, so they stay in the
// scroll-back. Without a TTY: one line per event. With --json: the event schema (schema.ts).
import type { LineEvent, LineSummary } from "../device/line.ts";
import { STEPS, type Step } from "../device/flow.ts";
import { eventRecord } from "./events.ts";

export type ReporterMode = "tty" | "plain" | "json";

export interface LineReporter {
  onEvent(event: LineEvent): void;
  /** Final redraw (TTY) before the summary is printed. */
  finish(): void;
  /** The terminal echoed a line the operator typed below the block (TTY). */
  typed?(): void;
  /** The DAK signatures the ledger counted before this run (known once the station loaded them). */
  signaturesBefore?(used: number): void;
}

export interface ViewOptions {
  count?: number;
  /** The DAK's MaxAllowedSignature from the device profile. */
  maxSignatures?: number;
  /** Signatures the DAK had made before this run (from the ledger). */
  signaturesBefore?: number;
  write?: (text: string) => void;
  /** Terminal width (default: stderr's columns, else 80). */
  columns?: () => number;
  color?: boolean;
  /** Called when the terminal is resized (TTY); returns the unsubscribe. */
  onResize?: (redraw: () => void) => () => void;
  now?: () => number;
  /** Calls `redraw` every second (TTY), so the elapsed time and rate move during a pause; returns the stop. */
  tick?: (redraw: () => void) => () => void;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const paint = (on: boolean, code: string, text: string) => (on ? `\x1b[${code}m${text}\x1b[0m` : text);

/** Cuts `text` to `width` visible characters, keeping colour codes (and closing them). */
export function cut(text: string, width: number): string {
  let out = "";
  let visible = 0;
  let coloured = false;
  for (let i = 0; i < text.length; ) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(text);
    if (m && m.index === i) {
      out += m[0];
      coloured = m[0] !== "\x1b[0m";
      i += m[0].length;
      continue;
    }
    if (visible >= width) break;
    out += text[i];
    visible++;
    i++;
  }
  return coloured ? `${out}\x1b[0m` : out;
}

export const visibleLength = (text: string) => text.replace(ANSI, "").length;

function clock(seconds: number): string {
  const s = Math.floor(seconds);
  return `${String(Math.floor(s / 3600)).padStart(2, "0")}:${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

const percent = (good: number, bad: number) => (good + bad === 0 ? "  -  " : `${((good * 100) / (good + bad)).toFixed(1)}%`);

interface Row {
  state: string;
  last?: { pass: boolean; dsn: string; text: string };
  running?: { dsn: string; step: Step };
  provisioned: number;
  failed: number;
}

export function lineReporter(mode: ReporterMode, ports: string[], options: ViewOptions = {}): LineReporter {
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const now = options.now ?? Date.now;
  const started = now();
  if (mode === "json") {
    return {
      onEvent: (event) => process.stdout.write(JSON.stringify(eventRecord(event)) + "\n"),
      finish: () => {},
    };
  }
  const color = options.color ?? (mode === "tty" && !process.env.NO_COLOR);
  const columns = options.columns ?? (() => process.stderr.columns || 80);
  const rows = new Map<string, Row>(ports.map((p) => [p, { state: "opening", provisioned: 0, failed: 0 }]));
  const totals = { provisioned: 0, failed: 0, signatures: 0, wasted: 0, dakUsed: undefined as number | undefined };
  let hsm = { ok: true, text: "HSM ok" };
  let stopping: string | undefined;
  let signaturesBefore = options.signaturesBefore ?? 0;
  const row = (port: string): Row => {
    let r = rows.get(port);
    if (!r) rows.set(port, (r = { state: "", provisioned: 0, failed: 0 }));
    return r;
  };

  const header = () => {
    const seconds = (now() - started) / 1000;
    const rate = seconds > 0 ? (totals.provisioned * 3600) / seconds : 0;
    const of = options.count !== undefined ? `/${options.count}` : "";
    return `${totals.provisioned}${of} ok · ${totals.failed} failed · yield ${percent(totals.provisioned, totals.failed).trim()} · ${clock(seconds)} · ${rate.toFixed(0)}/h`;
  };
  const dakLine = () => {
    // The DAK's total over every run the ledger saw, once a device has reported it.
    const used = totals.dakUsed ?? signaturesBefore + Math.ceil(totals.signatures / 2);
    const wasted = totals.wasted ? ` (${totals.wasted} wasted by reboots)` : "";
    // Each device takes one signature of each DAK key; the profile's maximum is per key.
    if (options.maxSignatures === undefined) return `DAK signatures ${used} used per key${wasted}`;
    return `DAK signatures ${used} used per key · ${Math.max(0, options.maxSignatures - used)} left of ${options.maxSignatures}${wasted}`;
  };
  // A fixture's row starts with a short name (the path's last part, at most 16 characters):
  // by-id paths would leave no room for the status.
  const shortName = (port: string) => {
    const base = port.replace(/^socket:\/\//, "").split(/[/\\]/).pop() || port;
    return base.length > 16 ? `…${base.slice(-15)}` : base;
  };
  const width = () => Math.max(...[...rows.keys()].map((p) => shortName(p).length), 4);
  const rowLine = (port: string, r: Row) => {
    // ok/failed and the fixture's yield, compact: the status needs the room.
    const pct = r.provisioned + r.failed === 0 ? "-" : `${Math.floor((r.provisioned * 100) / (r.provisioned + r.failed))}%`;
    const counts = `${`${r.provisioned}/${r.failed}`.padStart(8)} ${pct.padStart(4)}`;
    let status: string;
    if (r.running) status = `${r.running.dsn} ${r.running.step} (${STEPS.indexOf(r.running.step) + 1}/${STEPS.length})`;
    else {
      const last = r.last ? `${paint(color, r.last.pass ? "1;32" : "1;31", r.last.pass ? "PASS" : "FAIL")} ${r.last.dsn} ${r.last.text} · ` : "";
      status = `${last}${r.state}`;
    }
    return `${shortName(port).padEnd(width())} ${counts}  ${status}`;
  };
  const block = () => {
    const lines = [header(), paint(color && !hsm.ok, "1;41;97", hsm.text) + (stopping ? ` · ${paint(color, "1;33", stopping)}` : ""), dakLine()];
    for (const [p, r] of rows) lines.push(rowLine(p, r));
    return lines;
  };

  let drawn = 0;
  // Cut one short of the width: a line that fills the last column wraps on some terminals.
  const draw = (above: string[] = []) => {
    const w = Math.max(20, columns() - 1);
    const text = [...above.map((l) => cut(l, w)), ...block().map((l) => cut(l, w))];
    write(`${drawn ? `\x1b[${drawn}F` : ""}\x1b[J${text.join("\n")}\n`);
    drawn = text.length - above.length;
  };
  let unsubscribeResize: (() => void) | undefined;
  let stopTicking: (() => void) | undefined;
  let finished = false;
  if (mode === "tty") {
    const onResize =
      options.onResize ??
      ((redraw: () => void) => {
        process.stderr.on("resize", redraw);
        return () => process.stderr.off("resize", redraw);
      });
    // Rows cut for the old width may have wrapped: clear the screen and draw again.
    unsubscribeResize = onResize(() => {
      write("\x1b[2J\x1b[H");
      drawn = 0;
      draw();
    });
    const tick =
      options.tick ??
      ((redraw: () => void) => {
        // unref: the clock never keeps a finished run alive.
        const timer = setInterval(redraw, 1000);
        timer.unref();
        return () => clearInterval(timer);
      });
    stopTicking = tick(() => draw());
  }
  const plain = (port: string, text: string) => write(`${new Date(now()).toISOString()} ${port ? `${port} ` : ""}${text}\n`);

  return {
    onEvent(event) {
      const above: string[] = [];
      let line: [string, string] | undefined;
      switch (event.type) {
        case "port-open":
          row(event.port).state = "open";
          line = [event.port, "open"];
          break;
        case "waiting":
          row(event.port).state = event.text;
          line = [event.port, event.text];
          break;
        case "device-start": {
          const r = row(event.port);
          r.last = undefined;
          r.running = { dsn: event.dsn, step: "init" };
          line = [event.port, `${event.dsn} started (SMSN ${event.smsn.slice(0, 16)}…)`];
          break;
        }
        case "step":
          row(event.port).running = { dsn: event.dsn, step: event.step };
          break;
        case "device-done": {
          const r = row(event.port);
          r.running = undefined;
          r.provisioned++;
          r.last = { pass: true, dsn: event.dsn, text: `${event.seconds.toFixed(1)} s` };
          totals.provisioned = event.provisioned;
          totals.signatures = event.signatures;
          totals.dakUsed = event.dakUsed;
          totals.wasted += event.wastedSignatures;
          const extra = [event.retries && `${event.retries} retries`, event.restarts && `${event.restarts} reboots (${event.wastedSignatures} DAK signatures wasted)`].filter(Boolean).join(", ");
          line = [event.port, `PASS ${event.dsn} in ${event.seconds.toFixed(1)} s → ${event.controlLog}${extra ? ` (${extra})` : ""}`];
          break;
        }
        case "device-failed": {
          const r = row(event.port);
          r.running = undefined;
          r.failed++;
          r.last = { pass: false, dsn: event.dsn, text: `${event.action} (at ${event.step})` };
          totals.failed = event.failed;
          totals.signatures = event.signatures;
          totals.dakUsed = event.dakUsed;
          totals.wasted += event.wastedSignatures;
          const text = `FAIL ${event.dsn} at ${event.step}: ${event.action} (${event.error})`;
          line = [event.port, text];
          above.push(`${paint(color, "1;31", "FAIL")} ${event.port} ${event.dsn} at ${event.step}: ${event.action}`, `     ${event.error}`);
          break;
        }
        case "refused":
          row(event.port).last = { pass: false, dsn: event.dsn, text: "refused (already provisioned)" };
          line = [event.port, `${event.dsn} refused: ${event.reason}`];
          above.push(`refused ${event.port} ${event.dsn}: ${event.reason}`);
          break;
        case "hsm":
          hsm = { ok: event.state === "ok", text: event.message };
          line = ["", event.message];
          above.push(event.message);
          break;
        case "stopping":
          stopping = event.message;
          line = ["", event.message];
          break;
        case "station-error":
          line = ["", `LINE STOPPED: ${event.message}; board ${event.dsn} on ${event.port}: ${event.action}; to recover: ${event.recover}`];
          above.push(paint(color, "1;31", `LINE STOPPED: ${event.message}`), `board ${event.dsn} on ${event.port}: ${event.action}`, `to recover: ${event.recover}`);
          break;
        case "fixture-stopped": {
          // Why it stopped matters more than its last board (that one is in the scroll-back).
          const r = row(event.port);
          r.last = undefined;
          r.state = `${paint(color, "1;31", "STOPPED")}: ${event.failures} failed in a row (${event.last})`;
          line = [event.port, `STOPPED: ${event.message}`];
          above.push(paint(color, "1;31", `FIXTURE STOPPED: ${event.message}`));
          break;
        }
        case "warning":
          line = ["", `warning: ${event.message}`];
          above.push(`warning: ${event.message}`);
          break;
        case "port-closed":
          // A fixture that stopped keeps saying why.
          if (!row(event.port).state.includes("STOPPED")) row(event.port).state = event.error ? `closed: ${event.error}` : "closed";
          line = [event.port, event.error ? `closed: ${event.error}` : "closed"];
          break;
      }
      if (mode === "tty") draw(above);
      else if (line) plain(...line);
    },
    finish() {
      if (finished) return;
      finished = true;
      unsubscribeResize?.();
      stopTicking?.();
      if (mode === "tty") draw();
    },
    typed() {
      // The echo took the line under the block: the next redraw starts one line higher.
      if (mode === "tty" && drawn) drawn++;
    },
    signaturesBefore(used) {
      signaturesBefore = used;
      if (mode === "tty") draw();
    },
  };
}

/** The end-of-run summary: totals, DAK use, per-fixture yield, and every failed DSN with its step and action. */
export function summaryLines(summary: LineSummary): string[] {
  const lines = [
    `${summary.provisioned} provisioned, ${summary.failed} failed, ${summary.refused} refused in ${summary.seconds.toFixed(1)} s (${summary.devicesPerHour.toFixed(0)} devices/h); stopped by ${summary.stoppedBy}`,
    `DAK signatures: ${summary.signatures} made (both keys)${summary.wastedSignatures ? `, ${summary.wastedSignatures} wasted by reboots` : ""}; the ledger counts ${summary.dakUsed} per DAK key`,
  ];
  for (const [port, t] of Object.entries(summary.perPort)) lines.push(`  ${port}: ${t.provisioned} ok, ${t.failed} failed, yield ${percent(t.provisioned, t.failed).trim()}${t.stopped ? `; stopped: ${t.stopped.replace(/^fixture \S+: /, "")}` : ""}`);
  if (summary.failures.length) {
    lines.push(`failed devices (${summary.failures.length}):`);
    for (const f of summary.failures) lines.push(`  ${f.dsn}  ${f.port}  at ${f.step}: ${f.action}`);
  }
  return lines;
}
