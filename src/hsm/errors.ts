// HSM failures as named errors with a sentence a line engineer understands. Device error codes
// are Yubico's (https://developers.yubico.com/YubiHSM2/Concepts/Errors.html, python-yubihsm
// defs.ERROR); unknown codes are kept, not swallowed. Context (command, object id) is in hex.
import { CredentialsRejectedError, SwtoolError, type ErrorDetails } from "../lib/errors.ts";

export const DEVICE_ERROR = {
  INVALID_COMMAND: 0x01,
  INVALID_DATA: 0x02,
  INVALID_SESSION: 0x03,
  AUTHENTICATION_FAILED: 0x04,
  SESSIONS_FULL: 0x05,
  SESSION_FAILED: 0x06,
  STORAGE_FAILED: 0x07,
  WRONG_LENGTH: 0x08,
  INSUFFICIENT_PERMISSIONS: 0x09,
  LOG_FULL: 0x0a,
  OBJECT_NOT_FOUND: 0x0b,
  INVALID_ID: 0x0c,
  SSH_CA_CONSTRAINT_VIOLATION: 0x0e,
  INVALID_OTP: 0x0f,
  DEMO_MODE: 0x10,
  OBJECT_EXISTS: 0x11,
  ALGORITHM_DISABLED: 0x12,
  COMMAND_UNEXECUTED: 0xff,
} as const;

export type DeviceErrorName = keyof typeof DEVICE_ERROR;

const NAMES: Record<number, DeviceErrorName> = Object.fromEntries(Object.entries(DEVICE_ERROR).map(([n, c]) => [c, n as DeviceErrorName]));

const SENTENCES: Partial<Record<DeviceErrorName, [string, string?]>> = {
  INVALID_COMMAND: ["the HSM does not know this command", "the HSM firmware may be too old for this tool"],
  INVALID_DATA: ["the HSM refused the command's data as invalid"],
  INVALID_SESSION: ["the HSM no longer knows this session (it timed out after 30 s idle, or was closed)", "run the command again"],
  AUTHENTICATION_FAILED: ["the HSM refused the authentication", "check the PIN and the key slot"],
  SESSIONS_FULL: ["all 16 sessions of the HSM are in use", "close other programs using the HSM, or wait 30 s for idle sessions to expire"],
  SESSION_FAILED: ["the HSM dropped the session after a message failed its checks", "run the command again; if it repeats, check the network path to the HSM"],
  STORAGE_FAILED: ["the HSM has no room left for the object", "delete unused objects or use another HSM"],
  WRONG_LENGTH: ["the HSM refused a message of the wrong length"],
  INSUFFICIENT_PERMISSIONS: ["the HSM key slot used does not have the capability this needs", "use the key slot meant for this task, or have the HSM provisioned with that capability"],
  LOG_FULL: ["the HSM's audit log is full and forced audit is on", "an HSM administrator must read out the log"],
  OBJECT_NOT_FOUND: ["the HSM has no such object (or the key slot may not see it)", "check the product tag and that this is the right HSM"],
  INVALID_ID: ["the HSM refused the object id"],
  OBJECT_EXISTS: ["an object with this id and type already exists on the HSM", "use a blank (factory-reset) HSM"],
  ALGORITHM_DISABLED: ["the algorithm is disabled on this HSM"],
  DEMO_MODE: ["the HSM is in demo mode and must be power-cycled"],
  COMMAND_UNEXECUTED: ["the HSM did not execute the command"],
};

export function deviceErrorName(code: number): string {
  return NAMES[code] ?? "UNKNOWN";
}

/** An error code the HSM returned. `code` is the device's byte, `codeName` Yubico's name. */
export class HsmDeviceError extends SwtoolError {
  readonly codeName: string;
  constructor(
    readonly code: number,
    readonly context: string,
    details: ErrorDetails = {},
  ) {
    const name = deviceErrorName(code);
    const [sentence, advice] = SENTENCES[name as DeviceErrorName] ?? [`the HSM returned an unknown error`];
    super(`${sentence} (${context}: device error 0x${code.toString(16).padStart(2, "0")} ${name})`, { advice: details.advice ?? advice, cause: details.cause });
    this.codeName = name;
  }
}

/** The PIN did not derive the key held in the slot (card cryptogram or host cryptogram refused). */
export class HsmPinRejectedError extends CredentialsRejectedError {
  constructor(readonly slot: number) {
    super(`the HSM rejected the PIN for authentication key slot ${slot}`, {
      advice: "check the PIN (and --pin-slot, if given); the PIN itself is never shown",
    });
  }
}

/** The connector could not be reached, or is not a yubihsm-connector. */
export class HsmConnectionError extends SwtoolError {}

/** A response that does not follow the protocol (wrong command echo, bad length). */
/** An answer that breaks the YubiHSM protocol: almost always the wrong peer, not a broken HSM. */
export class HsmProtocolError extends SwtoolError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { advice: "check that the connector URL names yubihsm-connector with a YubiHSM 2 behind it (or `swtool hsm simulate`)", ...details });
  }
}

export function isDeviceError(e: unknown, name: DeviceErrorName): e is HsmDeviceError {
  return e instanceof HsmDeviceError && e.code === DEVICE_ERROR[name];
}
