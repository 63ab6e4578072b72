// Which of the three things `swtool sign` was asked to do, decided from the flags alone (no
// file, HSM or device is touched): one device (CSRs or legacy keys), a batch file, or the
// production line. Each mode's preconditions are checked here, once, in one style.
import { UsageError } from "../../lib/errors.ts";
import type { AppKeySource } from "../../sign/profile.ts";
import type { DeviceInputs, SignOptions } from "../../sign/request.ts";
import { stageOfProductTag, type Stage } from "../../sidewalk/smsn.ts";
import { wholeNumberArg } from "../args.ts";
import { repeatedArg } from "../line-args.ts";
import type { SignerFlags } from "../signer-args.ts";
import { connectorUrls } from "../hsm-config.ts";
import type { SignArgs } from "./args.ts";


interface Common {
  signer: SignerFlags;
  stage: Stage;
  appKey?: AppKeySource;
  controlLogDir?: string;
  /** What the operator should be told before anything runs. */
  warnings: string[];
}

export interface OneMode extends Common {
  kind: "one";
  options: SignOptions;
  outform: "json" | "flat";
  /** Output file; absent or "-" is stdout. */
  output?: string;
}

export interface BatchMode extends Common {
  kind: "batch";
  file: string;
  /** What every row starts from (a row's columns override). */
  defaults: DeviceInputs;
  /** The checks each row must pass, as for one device. */
  options: SignOptions;
  outDir: string;
  failFast: boolean;
  concurrency?: number;
}

export interface LineMode extends Common {
  kind: "line";
  ports: string[];
  deviceType: string;
  apid: string;
  appKey: AppKeySource;
  controlLogDir: string;
  boardId?: string;
  dsn?: string;
}

export type SignMode = OneMode | BatchMode | LineMode;

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

/** The device side of the flags, as the reference tool names it. */
function deviceInputsOf(args: SignArgs): DeviceInputs {
  return {
    generateSmsn: args.generate_smsn ?? false,
    ...defined({
      eddsaCsr: args.eddsa_csr, ecdsaCsr: args.ecdsa_csr, deviceType: args.device_type, dsn: args.dsn, apid: args.apid, boardId: args.board_id,
      ed25519PrivateKey: args.ed25519_private_key, p256r1PrivateKey: args.p256r1_private_key,
      ed25519PrivateKeyFile: args.ed25519_private_key_file, p256r1PrivateKeyFile: args.p256r1_private_key_file,
    }),
  };
}

export function resolveSignMode(args: SignArgs, rawArgs: readonly string[] = []): SignMode {
  const warnings: string[] = [];
  if (args.outform !== "json" && args.outform !== "flat") throw new UsageError(`--outform ${args.outform}: use json or flat`);
  if (args.verify_cert !== "1") {
    if (args.verify_cert !== "0") throw new UsageError(`--verify_cert ${args.verify_cert}: use 0 or 1`);
    warnings.push("--verify_cert 0 is ignored: swtool verifies every chain before it is written");
  }
  if (args.device_profile_json && args.app_server_public_key) throw new UsageError("give --device_profile_json or --app_server_public_key, not both");
  const stage = stageOfProductTag(args.product, { testCert: args.test_cert ?? false });
  const appKey: AppKeySource | undefined = args.device_profile_json
    ? { from: "device-profile", path: args.device_profile_json }
    : args.app_server_public_key !== undefined ? { from: "flag", text: args.app_server_public_key } : undefined;
  const connectors = connectorUrls(rawArgs);
  const common: Common = { signer: { ...args, ...(connectors.length > 1 ? { connectors } : {}) }, stage, warnings, ...(appKey ? { appKey } : {}), ...(args.control_log_dir !== undefined ? { controlLogDir: args.control_log_dir } : {}) };

  const ports = repeatedArg(rawArgs, "port");
  if (ports.length === 0 && args.port !== undefined) ports.push(args.port);
  if (ports.length) {
    // The production line: devices make their own CSRs over the fixture's serial port.
    if (args.batch || args.eddsa_csr || args.ecdsa_csr || args.ed25519_private_key_file || args.p256r1_private_key_file) {
      throw new UsageError("--port provisions devices that make their own keys: leave out --batch, CSRs and key files");
    }
    if (!args.device_type || !args.apid) throw new UsageError("the line needs --device_type and --apid (the device computes its SMSN from them)");
    if (!appKey) throw new UsageError("the line needs the application server public key", { advice: "add --device_profile_json FILE or --app_server_public_key HEX" });
    if (!args.control_log_dir) throw new UsageError("the line needs --control_log_dir (one control log per provisioned device)");
    return {
      ...common, kind: "line", ports, deviceType: args.device_type, apid: args.apid, appKey, controlLogDir: args.control_log_dir,
      ...defined({ boardId: args.board_id || undefined, dsn: args.dsn }),
    };
  }

  const device = deviceInputsOf(args);
  const options: SignOptions = {
    ...device,
    product: args.product,
    testCert: args.test_cert ?? false,
    controlLogVer: args.control_log_ver,
    ...defined({ controlLogDir: args.control_log_dir, clientCert: args["client-cert"], clientKey: args["client-key"], smsnLen: wholeNumberArg(args.smsn_len, "smsn_len", { min: 1 }) }),
  };
  if (args.batch) {
    const concurrency = args["fail-fast"] ? 1 : wholeNumberArg(args.sessions, "sessions", { min: 1, max: 16 });
    return {
      ...common, kind: "batch", file: args.batch, defaults: device, options, outDir: args.o ?? ".", failFast: args["fail-fast"] ?? false,
      // Fail-fast means no row after the failing one: one at a time.
      ...(concurrency !== undefined ? { concurrency } : {}),
    };
  }
  return { ...common, kind: "one", options, outform: args.outform, ...(args.o !== undefined ? { output: args.o } : {}) };
}
