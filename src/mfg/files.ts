// Reading and writing page files: inputs are JSON files named in messages; a page or its
// Intel HEX holds the device's private keys, so outputs are written 0600 and whole (temporary
// file, fsync, rename). An existing --output_bin is merged as provision.py merges, but only
// when it is a manufacturing page of the same layout (or erased flash), never another file.
import { existsSync, readFileSync } from "node:fs";
import { FormatError, SwtoolError } from "../lib/errors.ts";
import { writeOutputSync } from "../lib/atomic.ts";
import { looksLikeIntelHex, readIntelHex } from "./ihex.ts";
import { MAGIC } from "./fields.ts";
import type { PageLayout } from "./layout.ts";

export const PAGE_FILE_MODE = 0o600;

export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new SwtoolError(`cannot read ${what} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`, { advice: `give the ${what} file as saved, unedited` });
  }
}

/** `--app_srv_pub`: a file holding the 32 raw bytes, or 64 hex digits (provision.py's rule). */
export function readAppServerKeyArg(value: string): Uint8Array {
  if (existsSync(value)) return new Uint8Array(readFileSync(value));
  if (!/^(0x)?[0-9a-fA-F]*$/.test(value)) {
    throw new FormatError(`--app_srv_pub ${JSON.stringify(value)} is neither a file nor hex`, { advice: "give the 64 hex digits of Sidewalk.ApplicationServerPublicKey, or a file of its 32 bytes" });
  }
  return new Uint8Array(Buffer.from(value.replace(/^0x/, ""), "hex"));
}

/** The current content of an output page file to merge into, or undefined to start afresh. */
export function existingPage(path: string, layout: PageLayout): Uint8Array | undefined {
  if (!existsSync(path)) return undefined;
  const data = new Uint8Array(readFileSync(path));
  if (data.length === 0 || data.every((b) => b === 0xff)) return data;
  const magic = new TextDecoder("latin1").decode(data.subarray(0, 4));
  const version = data.length >= 8 ? ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0 : -1;
  if (magic !== MAGIC) {
    throw new SwtoolError(`${path} exists and is not a manufacturing page (it does not start with "SID0"); refusing to merge the page into it`, {
      advice: "give a new --output_bin name, or remove the file",
    });
  }
  if (version !== layout.version) {
    throw new SwtoolError(`${path} holds a version ${version} page; merging a version ${layout.version} page into it would corrupt both`, {
      advice: "give a new --output_bin name, or use the --config of that page's layout",
    });
  }
  return data;
}

export function writePageFile(path: string, data: string | Uint8Array): void {
  writeOutputSync(path, data, { replace: true, mode: PAGE_FILE_MODE });
}

/** A page from a .bin or Intel HEX file (detected from the content). */
export function readPageFile(path: string): { data: Uint8Array; address?: number; format: "bin" | "hex" } {
  let raw: Uint8Array;
  try {
    raw = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new SwtoolError(`cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (looksLikeIntelHex(raw)) {
    const image = readIntelHex(new TextDecoder().decode(raw), path);
    return { data: image.data, address: image.address, format: "hex" };
  }
  return { data: raw, format: "bin" };
}
