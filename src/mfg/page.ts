// The manufacturing page bytes, built as Nordic's provision.py builds them and read as the
// firmware's parsers (sid_mfg_hex_v8.c, sid_mfg_hex_v7.c) read them.
// TLV (version 8): "SID0", version (u32 big-endian) at their config offsets, then one record
// per value in id order: tag u16 BE, length u16 BE, value, 0xFF padding to the word size.
// Fixed (version 7 and before): a 0xFF-filled page of mfg_page_size words, each value at its
// config offsets, zero-padded to its range.
import { FormatError } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import type { Curve } from "../sidewalk/curves.ts";
import { CA_ROLES, CONFIG_PREFIX, FIELD_BY_NAME, fieldName, MAGIC, TLV_TAG_EMPTY, TLV_VERSION } from "./fields.ts";
import type { MfgDevice } from "./input.ts";
import { LEGACY_LAYOUT, TLV_LAYOUT, type PageLayout } from "./layout.ts";

export interface PageValue {
  name: string;
  value: Uint8Array;
}

const SUFFIX: Record<Curve, string> = { ed25519: "ED25519", p256r1: "P256R1" };
const HEADER_FIELDS = new Set(["MAGIC", "VERSION"]);

function u32be(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** Every value provision.py stores for a device, in id order. */
export function pageValues(device: MfgDevice, version: number): PageValue[] {
  const values: PageValue[] = [
    { name: "MAGIC", value: new TextEncoder().encode(MAGIC) },
    { name: "VERSION", value: u32be(version) },
    { name: "SMSN", value: device.smsn },
    { name: "APID", value: new TextEncoder().encode(device.apid) },
    { name: "APP_PUB_ED25519", value: device.appServerPublicKey },
  ];
  for (const curve of ["ed25519", "p256r1"] as Curve[]) {
    const s = SUFFIX[curve];
    const { chain, privateKey } = device[curve];
    const [dev, ...cas] = chain.certs;
    values.push(
      { name: `DEVICE_PRIV_${s}`, value: privateKey },
      { name: `DEVICE_PUB_${s}`, value: dev!.publicKey },
      { name: `DEVICE_PUB_${s}_SIGNATURE`, value: dev!.signature },
    );
    CA_ROLES.forEach((role, i) => {
      const cert = cas[i]!;
      values.push(
        { name: `${role}_PUB_${s}`, value: cert.publicKey },
        { name: `${role}_PUB_${s}_SIGNATURE`, value: cert.signature },
        { name: `${role}_${s}_SERIAL`, value: cert.serial },
      );
    });
    values.push({ name: `AMZN_PUB_${s}`, value: cas[CA_ROLES.length]!.publicKey });
  }
  return values.sort((a, b) => FIELD_BY_NAME.get(a.name)!.id - FIELD_BY_NAME.get(b.name)!.id);
}

const roundUp = (n: number, word: number) => Math.ceil(n / word) * word;

function tlvStart(layout: PageLayout): number {
  return layout.offsets.get("VERSION")!.end * layout.wordSize;
}

function readU16(data: Uint8Array, at: number): number {
  return (data[at]! << 8) | data[at + 1]!;
}

/** provision.py's remove_value_with_tag: drops the first record with `tag` from a merged page. */
function removeRecord(page: number[], tag: number, layout: PageLayout): void {
  let pos = tlvStart(layout);
  while (pos + 4 < page.length) {
    const recordLength = roundUp(((page[pos + 2]! << 8) | page[pos + 3]!) + 4, layout.wordSize);
    if (((page[pos]! << 8) | page[pos + 1]!) === tag) {
      page.splice(pos, recordLength);
      return;
    }
    pos += recordLength;
  }
}

function place(page: number[], v: PageValue, layout: PageLayout): void {
  const configName = CONFIG_PREFIX + v.name;
  const range = layout.offsets.get(v.name);
  if (range === undefined) throw new FormatError(`${layout.source}: mfg_offsets has no ${configName}`, { advice: "give it start and end words, as in provision.py's config_legacy.yaml" });
  if (range === null) throw new FormatError(`${layout.source}: mfg_offsets.${configName} is null, but the fixed-offset layout needs a place for it`);
  const start = range.start * layout.wordSize;
  const end = range.end * layout.wordSize;
  if (v.value.length > end - start) {
    throw new FormatError(`${v.name} is ${v.value.length} bytes but ${configName} in ${layout.source} holds ${end - start}`, {
      advice: v.name.endsWith("_SERIAL") ? "this chain uses serial expansion, which only the TLV layout (version 8) can store" : "check the config's offsets",
    });
  }
  if (page.length < end) {
    throw new FormatError(`${configName} (words ${range.start}-${range.end}) does not fit the page of ${page.length / layout.wordSize} words`, {
      advice: `mfg_page_size has to be at least ${range.end + 1}`,
    });
  }
  for (let i = start; i < end; i++) page[i] = v.value[i - start] ?? 0;
}

/**
 * The page for `values`. With `existing` (a page already in the output file) the page is
 * merged as provision.py does: values replace their own offsets or records, anything else is
 * kept.
 */
export function encodePage(values: readonly PageValue[], layout: PageLayout, existing?: Uint8Array): Uint8Array {
  const page = existing ? Array.from(existing) : [];
  const size = layout.kind === "tlv" ? tlvStart(layout) : layout.pageWords! * layout.wordSize;
  while (page.length < size) page.push(0xff);
  for (const v of values) {
    if (layout.kind === "tlv" && !HEADER_FIELDS.has(v.name)) {
      const tag = FIELD_BY_NAME.get(v.name)!.id;
      if (v.value.length > 0xffff) throw new FormatError(`${v.name} is ${v.value.length} bytes; a TLV record holds at most 65535`);
      removeRecord(page, tag, layout);
      page.push(tag >> 8, tag & 0xff, v.value.length >> 8, v.value.length & 0xff, ...v.value);
      while (page.length % layout.wordSize !== 0) page.push(0xff);
    } else if (v.name === "MAGIC" && !layout.offsets.get("MAGIC")) {
      // provision.py skips the magic when the config gives it no place.
      continue;
    } else {
      place(page, v, layout);
    }
  }
  return new Uint8Array(page);
}

export function buildPage(device: MfgDevice, layout: PageLayout = TLV_LAYOUT, existing?: Uint8Array): Uint8Array {
  return encodePage(pageValues(device, layout.version), layout, existing);
}

export interface DecodedField {
  id: number;
  name: string;
  /** Byte offset of the value in the page. */
  offset: number;
  value: Uint8Array;
}

export interface DecodedPage {
  kind: "tlv" | "fixed";
  version: number;
  wordSize: number;
  length: number;
  fields: DecodedField[];
  /** Things that are wrong with the page's structure (not its contents). */
  problems: string[];
  layoutSource: string;
}

function isErased(data: Uint8Array): boolean {
  return data.every((b) => b === 0xff);
}

/**
 * Reads a page: version 8 as TLV records, versions 1 to 7 with the fixed layout (the built-in
 * config_legacy.yaml offsets unless another fixed layout is given).
 */
export function decodePage(data: Uint8Array, fixedLayout: PageLayout = LEGACY_LAYOUT): DecodedPage {
  if (data.length < 8) throw new FormatError(`mfg.decode: ${data.length} bytes is too short for a manufacturing page (the header alone is 8)`);
  if (isErased(data)) throw new FormatError("mfg.decode: the page is erased (every byte 0xFF): the device was never provisioned");
  const magic = new TextDecoder("latin1").decode(data.subarray(0, 4));
  if (magic !== MAGIC) {
    throw new FormatError(`mfg.decode: the page starts with ${toHex(data.subarray(0, 4))}, not the magic "SID0"`, { advice: "is this a manufacturing page, and the right --addr / file?" });
  }
  const version = ((data[4]! << 24) | (data[5]! << 16) | (data[6]! << 8) | data[7]!) >>> 0;
  if (version === TLV_VERSION) return decodeTlv(data, TLV_LAYOUT);
  if (version >= 1 && version <= 7) return decodeFixed(data, version, fixedLayout.kind === "fixed" ? fixedLayout : LEGACY_LAYOUT);
  throw new FormatError(`mfg.decode: page version ${version} (0x${version.toString(16).padStart(8, "0")}) is not supported`, { advice: "versions 1-7 (fixed offsets) and 8 (TLV) are" });
}

function decodeTlv(data: Uint8Array, layout: PageLayout): DecodedPage {
  const w = layout.wordSize;
  const fields: DecodedField[] = [
    { id: 0, name: "MAGIC", offset: 0, value: data.subarray(0, 4) },
    { id: 2, name: "VERSION", offset: 4, value: data.subarray(4, 8) },
  ];
  const problems: string[] = [];
  const seen = new Map<number, number>();
  let pos = tlvStart(layout);
  while (pos + 4 <= data.length) {
    const tag = readU16(data, pos);
    if (tag === TLV_TAG_EMPTY) break;
    const length = readU16(data, pos + 2);
    if (pos + 4 + length > data.length) {
      throw new FormatError(`mfg.decode: record ${fieldName(tag)} at offset ${pos} declares ${length} bytes, only ${data.length - pos - 4} are left (truncated page)`);
    }
    const value = data.subarray(pos + 4, pos + 4 + length);
    const next = roundUp(pos + 4 + length, w);
    const padding = data.subarray(pos + 4 + length, Math.min(next, data.length));
    if (!padding.every((b) => b === 0xff)) problems.push(`record ${fieldName(tag)} at offset ${pos}: padding is ${toHex(padding)}, not 0xFF`);
    if (length % w !== 0) problems.push(`record ${fieldName(tag)} at offset ${pos} is ${length} bytes, not a multiple of ${w}: Nordic's firmware parser (sid_mfg_hex_v8.c) does not skip the padding and misreads what follows`);
    if (seen.has(tag)) problems.push(`${fieldName(tag)} appears twice (offsets ${seen.get(tag)} and ${pos})`);
    seen.set(tag, pos);
    fields.push({ id: tag, name: fieldName(tag), offset: pos + 4, value });
    pos = next;
  }
  return { kind: "tlv", version: TLV_VERSION, wordSize: w, length: Math.min(pos, data.length), fields, problems, layoutSource: layout.source };
}

function decodeFixed(data: Uint8Array, version: number, layout: PageLayout): DecodedPage {
  const w = layout.wordSize;
  const fields: DecodedField[] = [];
  const problems: string[] = [];
  const ranges = [...layout.offsets.entries()].filter((e): e is [string, { start: number; end: number }] => e[1] !== null).sort((a, b) => a[1].start - b[1].start);
  for (const [name, range] of ranges) {
    const start = range.start * w;
    const end = range.end * w;
    if (end > data.length) {
      problems.push(`${name} (bytes ${start}-${end}) lies beyond the end of the ${data.length}-byte page`);
      continue;
    }
    const raw = data.subarray(start, end);
    if (isErased(raw)) continue; // the firmware ignores erased values
    const spec = FIELD_BY_NAME.get(name)!;
    fields.push({ id: spec.id, name, offset: start, value: spec.size !== undefined && spec.size < raw.length ? raw.subarray(0, spec.size) : raw });
  }
  fields.sort((a, b) => a.id - b.id);
  return { kind: "fixed", version, wordSize: w, length: (layout.pageWords ?? 0) * w, fields, problems, layoutSource: layout.source };
}
