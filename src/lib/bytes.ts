// Byte helpers for the Sidewalk codecs: strict hex and base64, length checks that name the field.
import { FormatError } from "./errors.ts";

/** Returns `value` when it is a Uint8Array of `length` bytes (any length when omitted). */
export function bytes(value: unknown, length: number | undefined, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new FormatError(`"${field}" expected bytes, got ${value === null ? "null" : typeof value}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new FormatError(`"${field}" expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("hex");
}

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Strict hex: even length, hex digits only (an optional 0x prefix is accepted). */
export function fromHex(text: string, field = "hex"): Uint8Array {
  if (typeof text !== "string") throw new FormatError(`"${field}" expected a hex string, got ${typeof text}`);
  const clean = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (!HEX_RE.test(clean)) {
    const bad = clean.length % 2 === 1 ? "an odd number of digits" : "a character that is not a hex digit";
    throw new FormatError(`"${field}" is not valid hex: it has ${bad}`);
  }
  return new Uint8Array(Buffer.from(clean, "hex"));
}

export function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64");
}

const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict standard base64 (RFC 4648 section 4, padded). Surrounding white space is trimmed;
 * anything else that is not canonical is refused with the reason, since a truncated
 * copy-paste would otherwise decode to a silently wrong value.
 */
export function fromBase64(text: string, field = "base64"): Uint8Array {
  if (typeof text !== "string") throw new FormatError(`"${field}" expected a base64 string, got ${typeof text}`);
  const clean = text.trim();
  // The common case in one decode and one encode: a text that is its own decoding's encoding
  // is canonical base64 (what the checks below accept), anything else gets the checks' reason.
  const decoded = Buffer.from(clean, "base64");
  if (decoded.toString("base64") === clean) return new Uint8Array(decoded);
  if (!B64_RE.test(clean)) {
    const badChar = clean.match(/[^A-Za-z0-9+/=]/);
    let why: string;
    if (badChar) why = `it contains ${JSON.stringify(badChar[0])} at position ${badChar.index}`;
    else if (clean.length % 4 !== 0) why = `its length ${clean.length} is not a multiple of 4 (truncated or missing padding?)`;
    else why = "its padding is misplaced";
    throw new FormatError(`"${field}" is not valid base64: ${why}`, {
      advice: "copy the whole value again, without line breaks or missing characters",
    });
  }
  const out = new Uint8Array(Buffer.from(clean, "base64"));
  // Non-zero bits in the last character's unused positions would make two texts decode alike.
  if (toBase64(out) !== clean) throw new FormatError(`"${field}" is not canonical base64: its last character has stray bits`);
  return out;
}

/** Reads fixed-size fields from a buffer, checking the length before every read. */
export class Reader {
  private offset = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly op: string,
  ) {}

  get remaining(): number {
    return this.data.length - this.offset;
  }

  take(length: number, what: string): Uint8Array {
    if (this.remaining < length) {
      throw new FormatError(`${this.op}: truncated ${what} (needs ${length} bytes, ${this.remaining} left)`);
    }
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  peek(length: number, what: string): Uint8Array {
    if (this.remaining < length) {
      throw new FormatError(`${this.op}: truncated ${what} (needs ${length} bytes, ${this.remaining} left)`);
    }
    return this.data.subarray(this.offset, this.offset + length);
  }

  end(): void {
    if (this.remaining !== 0) throw new FormatError(`${this.op}: ${this.remaining} unexpected trailing bytes`);
  }
}
