// Values of the Sidewalk manufacturing store (sid_pal_mfg_store_value_t in Nordic's
// sid_pal_mfg_store_ifc.h, mirrored by provision.py's SidMfgValueId): id, name and size.
// The id is also the TLV tag in the version 8 page.

export interface FieldSpec {
  id: number;
  name: string;
  /** Fixed size in bytes; undefined for CA serials (4 bytes, longer with serial expansion). */
  size: number | undefined;
}

const spec = (id: number, name: string, size: number | undefined): FieldSpec => ({ id, name, size });

export const FIELDS: readonly FieldSpec[] = [
  spec(0, "MAGIC", 4),
  spec(1, "DEVID", 5),
  spec(2, "VERSION", 4),
  spec(3, "SERIAL_NUM", 17),
  spec(4, "SMSN", 32),
  spec(5, "APP_PUB_ED25519", 32),
  spec(6, "DEVICE_PRIV_ED25519", 32),
  spec(7, "DEVICE_PUB_ED25519", 32),
  spec(8, "DEVICE_PUB_ED25519_SIGNATURE", 64),
  spec(9, "DEVICE_PRIV_P256R1", 32),
  spec(10, "DEVICE_PUB_P256R1", 64),
  spec(11, "DEVICE_PUB_P256R1_SIGNATURE", 64),
  spec(12, "DAK_PUB_ED25519", 32),
  spec(13, "DAK_PUB_ED25519_SIGNATURE", 64),
  spec(14, "DAK_ED25519_SERIAL", undefined),
  spec(15, "DAK_PUB_P256R1", 64),
  spec(16, "DAK_PUB_P256R1_SIGNATURE", 64),
  spec(17, "DAK_P256R1_SERIAL", undefined),
  spec(18, "PRODUCT_PUB_ED25519", 32),
  spec(19, "PRODUCT_PUB_ED25519_SIGNATURE", 64),
  spec(20, "PRODUCT_ED25519_SERIAL", undefined),
  spec(21, "PRODUCT_PUB_P256R1", 64),
  spec(22, "PRODUCT_PUB_P256R1_SIGNATURE", 64),
  spec(23, "PRODUCT_P256R1_SERIAL", undefined),
  spec(24, "MAN_PUB_ED25519", 32),
  spec(25, "MAN_PUB_ED25519_SIGNATURE", 64),
  spec(26, "MAN_ED25519_SERIAL", undefined),
  spec(27, "MAN_PUB_P256R1", 64),
  spec(28, "MAN_PUB_P256R1_SIGNATURE", 64),
  spec(29, "MAN_P256R1_SERIAL", undefined),
  spec(30, "SW_PUB_ED25519", 32),
  spec(31, "SW_PUB_ED25519_SIGNATURE", 64),
  spec(32, "SW_ED25519_SERIAL", undefined),
  spec(33, "SW_PUB_P256R1", 64),
  spec(34, "SW_PUB_P256R1_SIGNATURE", 64),
  spec(35, "SW_P256R1_SERIAL", undefined),
  spec(36, "AMZN_PUB_ED25519", 32),
  spec(37, "AMZN_PUB_P256R1", 64),
  spec(38, "APID", 4),
  spec(39, "DTID", undefined),
];

export const FIELD_BY_NAME = new Map<string, FieldSpec>(FIELDS.map((f) => [f.name, f]));
export const FIELD_BY_ID = new Map<number, FieldSpec>(FIELDS.map((f) => [f.id, f]));

export function field(name: string): FieldSpec {
  const f = FIELD_BY_NAME.get(name);
  if (!f) throw new RangeError(`no manufacturing store field ${name}`);
  return f;
}

/** The prefix provision.py and config.yaml put before each name. */
export const CONFIG_PREFIX = "SID_PAL_MFG_STORE_";

export function fieldName(id: number): string {
  return FIELD_BY_ID.get(id)?.name ?? `UNKNOWN_0x${id.toString(16).padStart(4, "0")}`;
}

/** Magic at the start of every page. */
export const MAGIC = "SID0";
/** Last version with fixed offsets, and the TLV version (sid_pal_mfg_store_ifc.h). */
export const FIXED_OFFSETS_VERSION = 7;
export const TLV_VERSION = 8;
/** The firmware stops reading TLV records at this tag (erased flash). */
export const TLV_TAG_EMPTY = 0xffff;

/** The CA certificates a page stores per curve, below Amazon's root (of which only the key is kept). */
export const CA_ROLES = ["DAK", "PRODUCT", "MAN", "SW"] as const;
