// `sign --port ... --transcript FILE`: every line the station sends to each fixture and every
// line it receives (noise, echoes and boot lines included) appended to one file for the run,
// for diagnosing a fixture or a firmware. Each line: ISO time, port, direction (`tx` sent,
// `rx` received, `--` the station's note: a board started, passed or failed), the text.
// Control characters are written as \xNN, so colour codes and line noise stay one readable
// line. Only device traffic passes here: the HSM PIN never does.
import { closeSync, openSync } from "node:fs";
import { writeAllSync } from "../lib/atomic.ts";
import { UsageError } from "../lib/errors.ts";

export type TranscriptDirection = "tx" | "rx" | "--";

export interface Transcript {
  readonly path: string;
  /** Told once when the transcript cannot be written further (default: a warning on stderr). */
  onError: (message: string) => void;
  line(port: string, direction: TranscriptDirection, text: string): void;
  close(): void;
}

const escaped = (text: string) => text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/**
 * Opens `path` for appending (created if missing; an existing transcript is never cut). A
 * failed write is reported once through `onError` and ends the transcript; the line goes on.
 */
export function openTranscript(path: string, now: () => Date = () => new Date()): Transcript {
  let fd: number | undefined;
  try {
    fd = openSync(path, "a");
  } catch (e) {
    throw new UsageError(`--transcript ${path}: cannot open it for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      advice: "give a file in a folder that exists and that you may write",
    });
  }
  return {
    path,
    onError: (message) => void process.stderr.write(`warning: ${message}\n`),
    line(port, direction, text) {
      if (fd === undefined) return;
      try {
        // The CR of a CRLF line end is the end, not the text.
        writeAllSync(fd, `${now().toISOString()} ${port} ${direction} ${escaped(text.endsWith("\r") ? text.slice(0, -1) : text)}\n`);
      } catch (e) {
        this.close();
        this.onError(`transcript ${path} not written further (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the line goes on without it`);
      }
    },
    close() {
      if (fd === undefined) return;
      const f = fd;
      fd = undefined;
      try {
        closeSync(f);
      } catch (e) {
        this.onError(`transcript ${path} may be incomplete: closing it failed (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    },
  };
}
