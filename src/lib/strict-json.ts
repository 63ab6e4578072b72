// A JSON reader for files that travel to Amazon (control logs): JSON.parse, plus what it lets
// through or words obscurely. A UTF-8 byte order mark is named (Amazon's Python reader refuses
// one), a key repeated in one object is refused by name (JSON.parse keeps the last silently,
// so a second, empty "controlLogs" would hide every entry), a cut-off file is called truncated.
import { FormatError } from "./errors.ts";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

interface Structure {
  /** The first key repeated within one object, if any. */
  duplicate?: string;
  /** What would close the containers still open at the end ("]}" ...), innermost first. */
  closers: string;
  /** Whether the text ends inside a string. */
  inString: boolean;
}

/** A key's text with its escapes resolved (as written when the escape itself is invalid). */
function unescapeKey(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted;
  }
}

/** The index of the quote closing the string opened at `open`, or -1 (and whether it has escapes). */
function stringEnd(text: string, open: number): { end: number; escaped: boolean } {
  let escaped = false;
  for (let j = text.indexOf('"', open + 1); j !== -1; j = text.indexOf('"', j + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(j - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes > 0) escaped = true;
    if (backslashes % 2 === 0) return { end: j, escaped };
  }
  return { end: -1, escaped };
}

/** One pass over the text's strings and brackets (no values are built; the regex engine skips the rest). */
function structure(text: string): Structure {
  const objects: (Set<string> | undefined)[] = [];
  let expectKey = false;
  const tokens = /["{}[\],]/g;
  for (let m = tokens.exec(text); m !== null; m = tokens.exec(text)) {
    const i = m.index;
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const { end, escaped } = stringEnd(text, i);
      if (end === -1) return { closers: closersOf(objects), inString: true };
      // Keys only in objects; in broken text (the truncation check) the brackets may not pair.
      if (expectKey && objects[objects.length - 1]) {
        // Any backslash, not only one before a quote: "a\u0022b" is the key "a\"b" too.
        const raw = text.slice(i + 1, end);
        const key = escaped || raw.includes("\\") ? unescapeKey(text.slice(i, end + 1)) : raw;
        const keys = objects[objects.length - 1]!;
        if (keys.has(key)) return { duplicate: key, closers: "", inString: false };
        keys.add(key);
        expectKey = false;
      }
      tokens.lastIndex = end + 1;
    } else if (c === 0x7b) {
      objects.push(new Set());
      expectKey = true;
    } else if (c === 0x5b) {
      objects.push(undefined);
      expectKey = false;
    } else if (c === 0x7d || c === 0x5d) {
      objects.pop();
      expectKey = false;
    } else {
      expectKey = objects[objects.length - 1] !== undefined;
    }
  }
  return { closers: closersOf(objects), inString: false };
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** How many keys valid JSON `text` spells out: strings followed by a colon. */
function keysInText(text: string): number {
  let keys = 0;
  for (let open = text.indexOf('"'); open !== -1; ) {
    let end = text.indexOf('"', open + 1);
    for (;;) {
      let backslashes = 0;
      while (text.charCodeAt(end - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) break;
      end = text.indexOf('"', end + 1);
    }
    let next = end + 1;
    while (isSpace(text.charCodeAt(next))) next++;
    if (text.charCodeAt(next) === COLON) keys++;
    open = text.indexOf('"', next);
  }
  return keys;
}

/** How many keys a parsed value holds, at every depth. */
function keysInValue(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let keys = 0;
  if (Array.isArray(value)) {
    for (const item of value) keys += keysInValue(item);
    return keys;
  }
  for (const key of Object.keys(value)) keys += 1 + keysInValue((value as Record<string, unknown>)[key]);
  return keys;
}

const closersOf = (open: (Set<string> | undefined)[]) => open.map((o) => (o ? "}" : "]")).reverse().join("");

/**
 * Whether `text` is the beginning of a JSON document: some ending makes it parse (close the
 * string and the containers, after finishing a value, key or literal cut in the middle).
 */
function isTruncated(text: string): boolean {
  const { closers, inString } = structure(text);
  if (!inString && closers === "") return false;
  const base = inString ? `${text}"` : text;
  const literal = /(?:^|[^A-Za-z])(t|tr|tru|f|fa|fal|fals|n|nu|nul)$/.exec(base)?.[1];
  const endings = ["", "null", ":null", '"":null', "0", ...(literal ? [{ t: "true", f: "false", n: "null" }[literal[0] as "t" | "f" | "n"].slice(literal.length)] : [])];
  return endings.some((ending) => {
    try {
      JSON.parse(base + ending + closers);
      return true;
    } catch {
      return false;
    }
  });
}

/** Parses `text` as JSON or throws a FormatError starting with `what:` (e.g. "control log"). */
export function parseStrictJson(text: string, what: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) {
    throw new FormatError(`${what}: starts with a UTF-8 byte order mark (BOM), which Amazon's reader refuses`, {
      advice: "save the file as UTF-8 without a BOM (an editor added it), or take the original from the line PC",
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (isTruncated(text)) {
      throw new FormatError(`${what}: truncated (the JSON ends unfinished after ${text.length} characters)`, {
        advice: "the file was cut short (a full disk, a copy stopped early): take it again from the line PC, or from a backup",
      });
    }
    throw new FormatError(`${what}: not valid JSON (${(e as Error).message})`);
  }
  // Parsing keeps one key of each repeated pair: when the text has as many keys as the value,
  // none is repeated, and only then is the slower structure() needed to name the repeated one.
  const duplicate = keysInText(text) === keysInValue(value) ? undefined : (structure(text).duplicate ?? "?");
  if (duplicate !== undefined) {
    throw new FormatError(`${what}: the key ${JSON.stringify(duplicate)} appears twice in one object (a reader would silently keep only the last)`, {
      advice: "the file was edited or merged by hand: take the original from the line PC, or rebuild it with swtool consolidate",
    });
  }
  return value;
}
