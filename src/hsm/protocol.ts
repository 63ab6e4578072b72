// YubiHSM 2 wire constants and the plain message frame (command byte, 2-byte big-endian length,
// payload), shared by the client and the simulator. Values from Yubico's "YubiHSM 2 commands"
// reference (https://developers.yubico.com/YubiHSM2/Commands/) and python-yubihsm's defs.py.
import { FormatError } from "../lib/errors.ts";
import { concat } from "../lib/bytes.ts";

export const CMD = {
  ECHO: 0x01,
  CREATE_SESSION: 0x03,
  AUTHENTICATE_SESSION: 0x04,
  SESSION_MESSAGE: 0x05,
  DEVICE_INFO: 0x06,
  CLOSE_SESSION: 0x40,
  GET_STORAGE_INFO: 0x41,
  PUT_OPAQUE: 0x42,
  GET_OPAQUE: 0x43,
  PUT_AUTHENTICATION_KEY: 0x44,
  PUT_ASYMMETRIC_KEY: 0x45,
  GENERATE_ASYMMETRIC_KEY: 0x46,
  LIST_OBJECTS: 0x48,
  GET_OBJECT_INFO: 0x4e,
  GET_PSEUDO_RANDOM: 0x51,
  GET_PUBLIC_KEY: 0x54,
  SIGN_ECDSA: 0x56,
  DELETE_OBJECT: 0x58,
  SIGN_EDDSA: 0x6a,
  ERROR: 0x7f,
} as const;

/** A code table's names by code, as Yubico's tools print them (`sign-eddsa`, `asymmetric-key`). */
function namesByCode(table: Record<string, number>): Record<number, string> {
  return Object.fromEntries(Object.entries(table).map(([name, code]) => [code, name.toLowerCase().replace(/_/g, "-")]));
}

export const COMMAND_NAMES = namesByCode(CMD);

/** A response carries the command code with the top bit set. */
export const RESPONSE_FLAG = 0x80;

export const OBJECT_TYPE = {
  OPAQUE: 0x01,
  AUTHENTICATION_KEY: 0x02,
  ASYMMETRIC_KEY: 0x03,
  WRAP_KEY: 0x04,
  HMAC_KEY: 0x05,
  TEMPLATE: 0x06,
  OTP_AEAD_KEY: 0x07,
  SYMMETRIC_KEY: 0x08,
  PUBLIC_WRAP_KEY: 0x09,
} as const;

export const OBJECT_TYPE_NAMES = namesByCode(OBJECT_TYPE);

export const ALGORITHM = {
  EC_P256: 12,
  EC_ECDSA_SHA256: 43,
  EC_ED25519: 46,
  OPAQUE_DATA: 30,
  OPAQUE_X509_CERTIFICATE: 31,
  AES128_YUBICO_AUTHENTICATION: 38,
} as const;

export const ALGORITHM_NAMES: Record<number, string> = {
  12: "ecp256",
  30: "opaque-data",
  31: "opaque-x509-certificate",
  38: "aes128-yubico-authentication",
  43: "ecdsa-sha256",
  46: "ed25519",
};

/** Capability bit numbers (the capability is 1n << bit), from Yubico's Capability concept page. */
export const CAPABILITY_BIT = {
  GET_OPAQUE: 0x00,
  PUT_OPAQUE: 0x01,
  PUT_AUTHENTICATION_KEY: 0x02,
  PUT_ASYMMETRIC: 0x03,
  GENERATE_ASYMMETRIC_KEY: 0x04,
  SIGN_ECDSA: 0x07,
  SIGN_EDDSA: 0x08,
  GET_PSEUDO_RANDOM: 0x13,
  DELETE_OPAQUE: 0x27,
  DELETE_AUTHENTICATION_KEY: 0x28,
  DELETE_ASYMMETRIC_KEY: 0x29,
} as const;

export type CapabilityName = keyof typeof CAPABILITY_BIT;

export function capability(...names: CapabilityName[]): bigint {
  let value = 0n;
  for (const n of names) value |= 1n << BigInt(CAPABILITY_BIT[n]);
  return value;
}

/** Every capability a YubiHSM 2 defines (bits 0x00..0x37): the factory key's set. */
export const ALL_CAPABILITIES = (1n << 0x38n) - 1n;
export const ALL_DOMAINS = 0xffff;

export const LIST_FILTER = {
  ID: 0x01,
  TYPE: 0x02,
  DOMAINS: 0x03,
  CAPABILITIES: 0x04,
  ALGORITHM: 0x05,
  LABEL: 0x06,
} as const;

export const ORIGIN = { GENERATED: 0x01, IMPORTED: 0x02 } as const;

export const LABEL_LENGTH = 40;
export const MAX_SESSIONS = 16;
/** The device drops a session after 30 s without a command (Yubico, "Concept: Session"). */
export const SESSION_IDLE_TIMEOUT_MS = 30_000;
/** Firmware 2.4 message buffer (python-yubihsm: 3136 bytes from 2.4.0 on). */
export const MAX_MESSAGE = 3136;

export interface Frame {
  code: number;
  data: Uint8Array;
}

export function encodeFrame(code: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (data.length > 0xffff) throw new FormatError(`hsm frame: payload of ${data.length} bytes is too long`);
  return concat(new Uint8Array([code, data.length >> 8, data.length & 0xff]), data);
}

/**
 * Reads one frame. `exact` refuses trailing bytes (plain messages); encrypted payloads carry
 * padding after the frame, so they are read with exact = false.
 */
export function decodeFrame(message: Uint8Array, what: string, exact = true): Frame {
  if (message.length < 3) throw new FormatError(`${what}: ${message.length} bytes is shorter than a frame header`);
  const length = (message[1]! << 8) | message[2]!;
  if (message.length < 3 + length) throw new FormatError(`${what}: frame declares ${length} bytes, ${message.length - 3} present`);
  if (exact && message.length !== 3 + length) throw new FormatError(`${what}: ${message.length - 3 - length} unexpected trailing bytes`);
  return { code: message[0]!, data: message.subarray(3, 3 + length) };
}

export function u16(value: number): Uint8Array {
  return new Uint8Array([(value >> 8) & 0xff, value & 0xff]);
}

export function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

export function readU16(data: Uint8Array, offset: number): number {
  return (data[offset]! << 8) | data[offset + 1]!;
}

export function readU64(data: Uint8Array, offset: number): bigint {
  return new DataView(data.buffer, data.byteOffset + offset, 8).getBigUint64(0);
}

/** A label on the wire: UTF-8, NUL-padded to 40 bytes. */
export function packLabel(label: string): Uint8Array {
  const raw = new TextEncoder().encode(label);
  if (raw.length > LABEL_LENGTH) throw new FormatError(`label ${JSON.stringify(label)} is ${raw.length} bytes; the HSM allows ${LABEL_LENGTH}`);
  const out = new Uint8Array(LABEL_LENGTH);
  out.set(raw);
  return out;
}

export function unpackLabel(raw: Uint8Array): string {
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
}

export function hex16(id: number): string {
  return `0x${id.toString(16).padStart(4, "0")}`;
}
