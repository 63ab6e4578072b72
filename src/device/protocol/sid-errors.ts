// Sidewalk error codes (sid_error_t) as the Factory Diagnostic Firmware prints them in
// `{CERT ERROR <n>}`. Numbers and names from sid_error.h in Nordic's sdk-sidewalk
// (subsys/sal/common/public/sid_ifc/sid_error/sid_error.h).

export const SID_ERRORS = {
  NONE: 0,
  GENERIC: -1,
  TIMEOUT: -2,
  OUT_OF_RESOURCES: -3,
  OOM: -4,
  OUT_OF_HANDLES: -5,
  NOSUPPORT: -6,
  NO_PERMISSION: -7,
  NOT_FOUND: -8,
  NULL_POINTER: -9,
  PARAM_OUT_OF_RANGE: -10,
  INVALID_ARGS: -11,
  INCOMPATIBLE_PARAMS: -12,
  IO_ERROR: -13,
  TRY_AGAIN: -14,
  BUSY: -15,
  DEAD_LOCK: -16,
  DATA_TYPE_OVERFLOW: -17,
  BUFFER_OVERFLOW: -18,
  IN_PROGRESS: -19,
  CANCELED: -20,
  OWNER_DEAD: -21,
  UNRECOVERABLE: -22,
  PORT_INVALID: -23,
  PORT_NOT_OPEN: -24,
  UNINITIALIZED: -25,
  ALREADY_INITIALIZED: -26,
  ALREADY_EXISTS: -27,
  BELOW_THRESHOLD: -28,
  STOPPED: -29,
  STORAGE_READ_FAIL: -30,
  STORAGE_WRITE_FAIL: -31,
  STORAGE_ERASE_FAIL: -32,
  STORAGE_FULL: -33,
  AUTHENTICATION_FAIL: -34,
  ENCRYPTION_FAIL: -35,
  DECRYPTION_FAIL: -36,
  ID_OBFUSCATION_FAIL: -37,
  NO_ROUTE_AVAILABLE: -38,
  INVALID_RESPONSE: -39,
  INVALID_STATE: -40,
  INSUFFICIENT_RESULTS: -41,
} as const;

export type SidErrorName = keyof typeof SID_ERRORS;

const NAMES = new Map<number, SidErrorName>(Object.entries(SID_ERRORS).map(([name, code]) => [code, name as SidErrorName]));

/** The name of a code; unknown codes are kept as numbers, never swallowed. */
export function sidErrorName(code: number): string {
  return NAMES.get(code) ?? "UNKNOWN";
}

/** "-11 INVALID_ARGS", the way operators and logs show a device error. */
export function describeSidError(code: number): string {
  return `${code} ${sidErrorName(code)}`;
}
