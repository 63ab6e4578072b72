// Page layouts, from a config file with the meaning of Nordic provision.py's config.yaml:
// `offset_size` (bytes per word), `mfg_offsets` (per field, start and end in words, or null),
// `tlv_enabled` (default true: version 8, only MAGIC and VERSION at fixed offsets, every other
// value a TLV record after VERSION), `mfg_page_size` (words, fixed layout only). Configs of
// provision.py before TLV (no `tlv_enabled`, with `mfg_page_version`) are read as that tool
// read them: the fixed layout with that version.
import { readFileSync } from "node:fs";
import { FormatError } from "../lib/errors.ts";
import { closest } from "../lib/closest.ts";
import { CONFIG_PREFIX, FIELD_BY_NAME, FIXED_OFFSETS_VERSION, TLV_VERSION } from "./fields.ts";

export interface WordRange {
  start: number;
  end: number;
}

export interface PageLayout {
  kind: "tlv" | "fixed";
  wordSize: number;
  version: number;
  /** Fixed layout: page size in words (the page is 0xFF-filled to this size). */
  pageWords?: number;
  /** By field name without the SID_PAL_MFG_STORE_ prefix; null = field not stored. */
  offsets: Map<string, WordRange | null>;
  source: string;
}

const HEADER: [string, number, number][] = [
  ["MAGIC", 0, 1],
  ["VERSION", 1, 2],
];

/** provision.py's default for Nordic (config/nordic/nrf528xx_dk/config.yaml). */
export const TLV_LAYOUT: PageLayout = {
  kind: "tlv",
  wordSize: 4,
  version: TLV_VERSION,
  offsets: new Map(HEADER.map(([n, start, end]) => [n, { start, end }])),
  source: "built-in TLV layout (provision.py config.yaml)",
};

// provision.py's config_legacy.yaml: the fixed offsets firmware before TLV reads (version 7).
const LEGACY_OFFSETS: [string, number, number][] = [
  ...HEADER,
  ["SERIAL_NUM", 2, 8], ["SMSN", 8, 16], ["APID", 16, 17], ["APP_PUB_ED25519", 18, 26],
  ["DEVICE_PRIV_ED25519", 26, 34], ["DEVICE_PUB_ED25519", 34, 42], ["DEVICE_PUB_ED25519_SIGNATURE", 42, 58],
  ["DEVICE_PRIV_P256R1", 58, 66], ["DEVICE_PUB_P256R1", 66, 82], ["DEVICE_PUB_P256R1_SIGNATURE", 82, 98],
  ["DAK_PUB_ED25519", 98, 106], ["DAK_PUB_ED25519_SIGNATURE", 106, 122], ["DAK_ED25519_SERIAL", 122, 123],
  ["DAK_PUB_P256R1", 123, 139], ["DAK_PUB_P256R1_SIGNATURE", 139, 155], ["DAK_P256R1_SERIAL", 155, 156],
  ["PRODUCT_PUB_ED25519", 156, 164], ["PRODUCT_PUB_ED25519_SIGNATURE", 164, 180], ["PRODUCT_ED25519_SERIAL", 180, 181],
  ["PRODUCT_PUB_P256R1", 181, 197], ["PRODUCT_PUB_P256R1_SIGNATURE", 197, 213], ["PRODUCT_P256R1_SERIAL", 213, 214],
  ["MAN_PUB_ED25519", 214, 222], ["MAN_PUB_ED25519_SIGNATURE", 222, 238], ["MAN_ED25519_SERIAL", 238, 239],
  ["MAN_PUB_P256R1", 239, 255], ["MAN_PUB_P256R1_SIGNATURE", 255, 271], ["MAN_P256R1_SERIAL", 271, 272],
  ["SW_PUB_ED25519", 272, 280], ["SW_PUB_ED25519_SIGNATURE", 280, 296], ["SW_ED25519_SERIAL", 296, 297],
  ["SW_PUB_P256R1", 297, 313], ["SW_PUB_P256R1_SIGNATURE", 313, 329], ["SW_P256R1_SERIAL", 329, 330],
  ["AMZN_PUB_ED25519", 330, 338], ["AMZN_PUB_P256R1", 338, 354],
];

export const LEGACY_LAYOUT: PageLayout = {
  kind: "fixed",
  wordSize: 4,
  version: FIXED_OFFSETS_VERSION,
  pageWords: 355,
  offsets: new Map(LEGACY_OFFSETS.map(([n, start, end]) => [n, { start, end }])),
  source: "built-in fixed layout (provision.py config_legacy.yaml)",
};

function positiveInt(value: unknown, key: string, where: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0) {
    throw new FormatError(`${where}: "${key}" must be a positive whole number, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Parses a config (YAML or JSON text) into a layout; `where` names it in messages. */
export function parseLayout(text: string, where: string): PageLayout {
  let doc: unknown;
  try {
    doc = where.toLowerCase().endsWith(".json") ? JSON.parse(text) : Bun.YAML.parse(text);
  } catch (e) {
    throw new FormatError(`${where}: not valid ${where.toLowerCase().endsWith(".json") ? "JSON" : "YAML"} (${(e as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new FormatError(`${where}: expected a mapping with "offset_size" and "mfg_offsets"`);
  const d = doc as Record<string, unknown>;
  const known = ["offset_size", "mfg_offsets", "tlv_enabled", "mfg_page_size", "mfg_page_version"];
  for (const key of Object.keys(d)) {
    if (!known.includes(key)) {
      const guess = closest(key, known);
      throw new FormatError(`${where}: unknown key "${key}"`, { advice: guess ? `did you mean "${guess}"?` : `the keys are ${known.join(", ")}` });
    }
  }
  const wordSize = positiveInt(d.offset_size, "offset_size", where);
  if (d.tlv_enabled !== undefined && typeof d.tlv_enabled !== "boolean") throw new FormatError(`${where}: "tlv_enabled" must be true or false`);
  // Before TLV, provision.py configs had mfg_page_version and no tlv_enabled.
  const tlv = d.tlv_enabled ?? d.mfg_page_version === undefined;
  const rawOffsets = d.mfg_offsets;
  if (typeof rawOffsets !== "object" || rawOffsets === null || Array.isArray(rawOffsets)) throw new FormatError(`${where}: "mfg_offsets" is missing`);
  const offsets = new Map<string, WordRange | null>();
  for (const [key, value] of Object.entries(rawOffsets)) {
    const name = key.startsWith(CONFIG_PREFIX) ? key.slice(CONFIG_PREFIX.length) : key;
    if (!FIELD_BY_NAME.has(name)) {
      const guess = closest(key, [...FIELD_BY_NAME.keys()].map((n) => CONFIG_PREFIX + n));
      throw new FormatError(`${where}: mfg_offsets has unknown field "${key}"`, guess ? { advice: `did you mean "${guess}"?` } : {});
    }
    if (value === null) {
      offsets.set(name, null);
      continue;
    }
    const r = value as Record<string, unknown>;
    const start = r?.start;
    const end = r?.end;
    if (typeof start !== "number" || typeof end !== "number" || !Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start >= end) {
      throw new FormatError(`${where}: mfg_offsets.${key} must be null or {start, end} whole word numbers with start < end, got ${JSON.stringify(value)}`);
    }
    offsets.set(name, { start, end });
  }
  for (const header of ["MAGIC", "VERSION"]) {
    if (tlv && !offsets.get(header)) throw new FormatError(`${where}: mfg_offsets.${CONFIG_PREFIX}${header} needs start and end (the TLV page keeps it at a fixed offset)`);
  }
  const layout: PageLayout = {
    kind: tlv ? "tlv" : "fixed",
    wordSize,
    version: tlv ? TLV_VERSION : d.mfg_page_version === undefined ? FIXED_OFFSETS_VERSION : positiveInt(d.mfg_page_version, "mfg_page_version", where),
    offsets,
    source: where,
  };
  if (tlv && d.mfg_page_size !== undefined) throw new FormatError(`${where}: "mfg_page_size" does not apply to a TLV page`, { advice: "remove it, or set tlv_enabled: false for the fixed-offset layout" });
  if (!tlv) layout.pageWords = positiveInt(d.mfg_page_size, "mfg_page_size", where);
  return layout;
}

export function loadLayout(path: string): PageLayout {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new FormatError(`cannot read config ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseLayout(text, path);
}
