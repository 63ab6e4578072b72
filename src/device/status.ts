// Showing a station's progress: on a TTY one live status line per port (step, DSN) and a
// totals line with rate and ETA, redrawn in place; without a TTY plain log lines; with --json
// one JSON event per line for a factory MES.
import type { LineEvent } from "./line.ts";

export type ReporterMode = "tty" | "plain" | "json";

export interface LineReporter {
  onEvent(event: LineEvent): void;
  /** Final redraw (TTY) before the summary is printed. */
  finish(): void;
}

export function lineReporter(mode: ReporterMode, ports: string[], options: { count?: number; write?: (text: string) => void } = {}): LineReporter {
  const write = options.write ?? ((text: string) => void process.stderr.write(text));
  const started = Date.now();
  const totals = { provisioned: 0, failed: 0 };
  if (mode === "json") {
    return {
      onEvent: (event) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + "\n"),
      finish: () => {},
    };
  }
  const statusOf = new Map<string, string>(ports.map((p) => [p, "opening"]));
  const width = Math.max(...ports.map((p) => p.length));
  const rateLine = () => {
    const hours = (Date.now() - started) / 3_600_000;
    const rate = hours > 0 ? totals.provisioned / hours : 0;
    const left = options.count === undefined ? undefined : options.count - totals.provisioned;
    const eta = left !== undefined && rate > 0 ? ` · ETA ${formatDuration((left / rate) * 3600)}` : "";
    return `${totals.provisioned} provisioned · ${totals.failed} failed · ${rate.toFixed(0)}/h${eta}`;
  };
  let drawn = 0;
  const redraw = () => {
    const lines = [...statusOf].map(([p, s]) => `${p.padEnd(width)}  ${s}`);
    lines.push(rateLine());
    // Move up over the previous block, clear each line, draw again.
    write((drawn ? `\x1b[${drawn}F` : "") + lines.map((l) => `\x1b[2K${l}`).join("\n") + "\n");
    drawn = lines.length;
  };
  const plain = (port: string, text: string) => write(`${new Date().toISOString()} ${port} ${text}\n`);
  return {
    onEvent(event) {
      let text: string | undefined;
      let port = "";
      switch (event.type) {
        case "port-open":
          [port, text] = [event.port, "open, waiting for a device"];
          break;
        case "waiting":
          [port, text] = [event.port, "waiting for the next device"];
          break;
        case "device-start":
          [port, text] = [event.port, `${event.dsn} started (SMSN ${event.smsn.slice(0, 16)}…)`];
          break;
        case "step":
          port = event.port;
          if (mode === "tty") text = `${event.dsn} ${event.step}`;
          break;
        case "device-done":
          Object.assign(totals, { provisioned: event.provisioned, failed: event.failed });
          [port, text] = [event.port, `${event.dsn} provisioned in ${event.seconds.toFixed(1)} s → ${event.controlLog}`];
          break;
        case "device-failed":
          Object.assign(totals, { provisioned: event.provisioned, failed: event.failed });
          [port, text] = [event.port, `${event.dsn} FAILED at ${event.step}: ${event.error}`];
          break;
        case "refused":
          [port, text] = [event.port, `${event.dsn} refused: ${event.reason}`];
          break;
        case "warning":
          write(`warning: ${event.message}\n`);
          drawn = 0;
          return;
        case "port-closed":
          [port, text] = [event.port, event.error ? `closed: ${event.error}` : "closed"];
          break;
      }
      if (text === undefined) return;
      if (mode === "tty") {
        statusOf.set(port, text);
        // Failures stay in the scroll-back above the live block.
        if (event.type === "device-failed") {
          write(`${drawn ? `\x1b[${drawn}F\x1b[J` : ""}${port} ${text}\n`);
          drawn = 0;
        }
        redraw();
      } else plain(port, text);
    },
    finish() {
      if (mode === "tty") redraw();
      else write(`${rateLine()}\n`);
    },
  };
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
