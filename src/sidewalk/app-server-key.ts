// The application server public key (Sidewalk.ApplicationServerPublicKey of the device profile):
// 32 bytes that must be an Ed25519 point, checked the one way for every flow that writes it to
// a device (`sign --port`, the signing output) or a manufacturing page.
import { bytes } from "../lib/bytes.ts";
import { FormatError } from "../lib/errors.ts";
import { CURVES } from "./curves.ts";

export const APP_SERVER_KEY_LENGTH = 32;

export function appServerPublicKey(key: Uint8Array, field: string): Uint8Array {
  bytes(key, APP_SERVER_KEY_LENGTH, field);
  if (!CURVES.ed25519.isValidPublicKey(key)) throw new FormatError(`"${field}" is not an Ed25519 public key (not a point on the curve)`);
  return key;
}
