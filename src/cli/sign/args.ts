// The flags of `swtool sign`, in the groups its help shows them: the HSM, the device (every
// mode), one device, legacy keys, batch, line, serial. The line's and the serial port's flags
// are defined once in cli/line-args.ts.
import type { ArgsDef, ParsedArgs } from "citty";
import { lineArgs, serialArgs } from "../line-args.ts";
import { signerArgs } from "../signer-args.ts";
import { hookArgs } from "../hooks.ts";

export const deviceArgs = {
  device_type: { type: "string", alias: ["d"], description: "Device type id of the product" },
  dsn: { type: "string", alias: ["D"], description: "Device serial number" },
  apid: { type: "string", alias: ["a"], description: "Advertised product id (4 characters)" },
  board_id: { type: "string", description: "Board id appended to the SMSN hash input (swtool extension)" },
  device_profile_json: { type: "string", description: "Output of `aws iotwireless get-device-profile` (application server key)" },
  app_server_public_key: { type: "string", description: "Application server public key (hex or base64), instead of --device_profile_json" },
  control_log_dir: { type: "string", description: "Write one 4-0-1 control log per device into this directory" },
  control_log_ver: { type: "string", description: "Control log version", default: "4-0-1" },
} as const satisfies ArgsDef;

export const oneDeviceArgs = {
  eddsa_csr: { type: "string", description: "Ed25519 CSR from the device (base64)" },
  ecdsa_csr: { type: "string", description: "P-256 CSR from the device (base64)" },
  generate_smsn: { type: "boolean", alias: ["g"], description: "Compute the SMSN from --device_type, --dsn and --apid" },
  smsn_len: { type: "string", alias: ["s"], description: "Length of the SMSN (32; kept for compatibility)" },
  o: { type: "string", description: "Output file (default: stdout); with --batch, the output directory" },
  outform: { type: "string", description: "json | flat", default: "json" },
  verify_cert: { type: "string", description: "Kept for compatibility: 1, or 0 (accepted with a warning; swtool always verifies)", default: "1" },
} as const satisfies ArgsDef;

export const legacyKeyArgs = {
  ed25519_private_key: { type: "string", description: "Device Ed25519 private key (hex)" },
  p256r1_private_key: { type: "string", description: "Device P-256 private key (hex)" },
  ed25519_private_key_file: { type: "string", description: "Device Ed25519 private key (PEM, PKCS#8)" },
  p256r1_private_key_file: { type: "string", description: "Device P-256 private key (PEM, SEC1 or PKCS#8)" },
} as const satisfies ArgsDef;

export const batchArgs = {
  batch: { type: "string", description: "CSV file, one device per row (dsn, and CSRs or key files); -o is the output directory" },
  "fail-fast": { type: "boolean", description: "With --batch: stop at the first failing row" },
} as const satisfies ArgsDef;

/** The machine interface (--json events and device hooks), every mode. */
export const eventArgs = {
  "json-schema": { type: "boolean", description: "Print the JSON Schema of the --json events (line, batch, one device) and exit" },
  ...hookArgs,
} as const satisfies ArgsDef;

export const signArgs = { ...signerArgs, ...deviceArgs, ...oneDeviceArgs, ...legacyKeyArgs, ...batchArgs, ...lineArgs, ...eventArgs } as const satisfies ArgsDef;

export type SignArgs = ParsedArgs<typeof signArgs>;

const lineOnly = Object.fromEntries(Object.entries(lineArgs).filter(([name]) => !(name in serialArgs))) as ArgsDef;

/** The help's groups, in order (a line flag #15 adds to lineArgs shows up under "line"). */
export const SIGN_HELP_GROUPS: [string, ArgsDef][] = [
  ["HSM", signerArgs],
  ["device (every mode)", deviceArgs],
  ["one device (CSRs from the device)", oneDeviceArgs],
  ["legacy keys (PEM-key flow, with -g)", legacyKeyArgs],
  ["batch", batchArgs],
  ["line (--port, repeat per fixture)", lineOnly],
  ["serial", serialArgs],
  ["machine interface (--json, device hooks; every mode)", eventArgs],
];
