// Reading the entries of one control log file. A per-device log (a few KB) is parsed whole; a
// large one (a consolidated log of a shift can be hundreds of MB) is scanned in chunks: a strict
// scanner follows the skeleton {"controlLogs": [ ... ]} and hands each array element's text to
// JSON.parse, so only one entry is in memory at a time.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { parseStrictJson } from "../lib/strict-json.ts";
import { FormatError } from "../lib/errors.ts";

/** Files above this size are streamed. */
export const STREAM_THRESHOLD = 16 * 1024 * 1024;
const CHUNK = 1 << 20;

const enum Ch {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
}

const isSpace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

type State = "start" | "key" | "colon" | "value" | "array" | "element" | "afterElement" | "afterValue" | "done";

/** Collects the bytes of one JSON value across chunks and says when it is complete. */
class ValueCapture {
  private parts: Buffer[] = [];
  private depth = 0;
  private inString = false;
  private escaped = false;
  private kind: "container" | "string" | "scalar" = "scalar";

  start(first: number): void {
    this.parts = [];
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.kind = first === Ch.OpenBrace || first === Ch.OpenBracket ? "container" : first === Ch.Quote ? "string" : "scalar";
  }

  /**
   * Consumes bytes of `chunk` from `from`; returns the index just after the value's end, or -1
   * when the value goes on in the next chunk. A scalar ends before its delimiter.
   */
  feed(chunk: Buffer, from: number): number {
    let i = from;
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === Ch.Backslash) this.escaped = true;
        else if (b === Ch.Quote) {
          this.inString = false;
          if (this.kind === "string") return this.finish(chunk, from, i + 1);
        }
        continue;
      }
      if (this.kind === "scalar") {
        if (isSpace(b) || b === Ch.Comma || b === Ch.CloseBracket || b === Ch.CloseBrace) return this.finish(chunk, from, i);
        continue;
      }
      if (b === Ch.Quote) this.inString = true;
      else if (b === Ch.OpenBrace || b === Ch.OpenBracket) this.depth++;
      else if (b === Ch.CloseBrace || b === Ch.CloseBracket) {
        if (--this.depth === 0) return this.finish(chunk, from, i + 1);
      }
    }
    this.parts.push(Buffer.from(chunk.subarray(from)));
    return -1;
  }

  private finish(chunk: Buffer, from: number, end: number): number {
    this.parts.push(chunk.subarray(from, end));
    return end;
  }

  text(): string {
    const text = Buffer.concat(this.parts).toString("utf8");
    this.parts = [];
    return text;
  }
}

/** Streams the elements of "controlLogs" out of a control log's bytes. */
export class ControlLogScanner {
  private state: State = "start";
  private capture = new ValueCapture();
  private capturing = false;
  private key = "";
  private seenControlLogs = false;
  private offset = 0;
  private count = 0;

  private fail(what: string): never {
    throw new FormatError(`control log: ${what} at byte ${this.offset}`);
  }

  /** Feeds the next chunk; calls `onEntry` with each complete entry. */
  push(chunk: Buffer, onEntry: (raw: unknown, index: number) => void): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.capturing) {
        const end = this.capture.feed(chunk, i);
        if (end < 0) {
          this.offset += chunk.length - i;
          return;
        }
        this.offset += end - i;
        i = end;
        this.capturing = false;
        this.valueDone(onEntry);
        continue;
      }
      const b = chunk[i]!;
      if (isSpace(b)) {
        i++;
        this.offset++;
        continue;
      }
      switch (this.state) {
        case "start":
          // parseStrictJson's words for the small-file path; the byte offset adds nothing here.
          if (b === 0xef && this.offset === 0) throw new FormatError("control log: starts with a UTF-8 byte order mark (BOM), which Amazon's reader refuses");
          if (b !== Ch.OpenBrace) this.fail("expected '{' to open the document");
          this.state = "key";
          break;
        case "key":
          if (b !== Ch.Quote) this.fail("expected a key");
          this.startValue(b, "key");
          continue;
        case "colon":
          if (b !== Ch.Colon) this.fail("expected ':' after a key");
          this.state = "value";
          break;
        case "value":
          if (this.key === "controlLogs") {
            if (this.seenControlLogs) this.fail('"controlLogs" appears twice');
            if (b !== Ch.OpenBracket) this.fail('"controlLogs" is not an array');
            this.seenControlLogs = true;
            this.state = "array";
            break;
          }
          this.startValue(b, "value");
          continue;
        case "array":
          if (b === Ch.CloseBracket) {
            this.state = "afterValue";
            break;
          }
          this.startValue(b, "element");
          continue;
        case "afterElement":
          if (b === Ch.Comma) this.state = "element";
          else if (b === Ch.CloseBracket) this.state = "afterValue";
          else this.fail("expected ',' or ']' after an entry");
          break;
        case "element":
          this.startValue(b, "element");
          continue;
        case "afterValue":
          if (b === Ch.Comma) this.state = "key";
          else if (b === Ch.CloseBrace) this.state = "done";
          else this.fail("expected ',' or '}'");
          break;
        case "done":
          this.fail("unexpected data after the document");
      }
      i++;
      this.offset++;
    }
  }

  private startValue(first: number, state: State): void {
    this.state = state;
    this.capture.start(first);
    this.capturing = true;
  }

  private valueDone(onEntry: (raw: unknown, index: number) => void): void {
    const text = this.capture.text();
    let value: unknown;
    try {
      value = parseStrictJson(text, "control log");
    } catch (e) {
      this.fail((e as Error).message.replace(/^control log: /, ""));
    }
    if (this.state === "key") {
      this.key = value as string;
      this.state = "colon";
    } else if (this.state === "value") {
      this.state = "afterValue";
    } else {
      onEntry(value, this.count++);
      this.state = "afterElement";
    }
  }

  end(): void {
    if (this.capturing) this.fail("truncated");
    if (this.state !== "done") this.fail(this.state === "start" ? "empty file" : "truncated");
    if (!this.seenControlLogs) throw new FormatError('control log: "controlLogs" is missing');
  }
}

/**
 * Calls `onEntry` for every raw entry of the file at `path`, in order. File-level problems
 * (unreadable, not JSON, no "controlLogs" array) throw a FormatError.
 */
export function readEntries(path: string, onEntry: (raw: unknown, index: number) => void, threshold = STREAM_THRESHOLD): void {
  // Synchronous reads: for 100,000 small files each await costs more than the read itself.
  const fd = openSync(path, "r");
  try {
    if (fstatSync(fd).size <= threshold) {
      const doc = parseStrictJson(readFileSync(fd, "utf8"), "control log");
      const logs = typeof doc === "object" && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>).controlLogs : undefined;
      if (!Array.isArray(logs)) throw new FormatError(`control log: "controlLogs" is ${logs === undefined ? "missing" : "not an array"}`);
      logs.forEach((raw, i) => onEntry(raw, i));
      return;
    }
    const scanner = new ControlLogScanner();
    const buffer = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const bytesRead = readSync(fd, buffer, 0, CHUNK, null);
      if (bytesRead === 0) break;
      // The scanner copies what it keeps of a chunk, so the buffer can be reused.
      scanner.push(buffer.subarray(0, bytesRead), onEntry);
    }
    scanner.end();
  } finally {
    closeSync(fd);
  }
}
