// What one `swtool sign` invocation asks for, checked with the reference signing tool's rules
// and refusals (same order, clearer words), before the HSM is touched.
import { existsSync, readFileSync, statSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";
import { decodeCsrBase64, type Csr } from "../sidewalk/csr.ts";
import { computeSmsn, SMSN_LENGTH, validateApid, type Stage } from "../sidewalk/smsn.ts";
import { readPrivateKeyHex, readPrivateKeyPem, type DeviceKey } from "./keys.ts";

/** The device-side inputs of one signing, in the reference tool's terms. */
export interface DeviceInputs {
  eddsaCsr?: string;
  ecdsaCsr?: string;
  ed25519PrivateKey?: string;
  p256r1PrivateKey?: string;
  ed25519PrivateKeyFile?: string;
  p256r1PrivateKeyFile?: string;
  generateSmsn?: boolean;
  deviceType?: string;
  dsn?: string;
  apid?: string;
  boardId?: string;
}

export interface SignOptions extends DeviceInputs {
  product: string;
  testCert?: boolean;
  smsnLen?: number;
  controlLogDir?: string;
  controlLogVer?: string;
  clientCert?: string;
  clientKey?: string;
}

/** A device ready to sign: both CSRs (unsigned ones in PEM-key mode) and what must match. */
export interface DeviceRequest {
  csrs: Record<Curve, Csr>;
  /** Private keys when known (PEM-key mode or given as hex): they go in the output metadata. */
  keys: Partial<Record<Curve, DeviceKey>>;
  expectedSmsn?: Uint8Array;
  apid?: string;
  dsn?: string;
  legacyKeys: boolean;
}

/** The reference tool's refusals, checked before anything else happens; returns its input, checked. */
export function checkSignOptions<T extends SignOptions>(o: T): T & CheckedInputs {
  const refuse = (message: string, advice?: string) => {
    throw new UsageError(message, advice ? { advice } : {});
  };
  if (o.smsnLen !== undefined && o.smsnLen !== SMSN_LENGTH) {
    if (!(o.smsnLen > 0)) refuse(`--smsn_len must be greater than 0`);
    if (o.generateSmsn) refuse("--smsn_len is not valid when generating the SMSN (--generate_smsn)");
    refuse(`--smsn_len ${o.smsnLen} is not supported: Sidewalk device certificates carry the 32-byte SMSN`, "leave out --smsn_len");
  }
  if (o.generateSmsn && (!o.deviceType || !o.dsn || !o.apid)) {
    refuse("--generate_smsn needs --device_type, --dsn and --apid", "give all three, as printed on the device label and in the Sidewalk console");
  }
  if (o.controlLogDir !== undefined) {
    if (!existsSync(o.controlLogDir) || !statSync(o.controlLogDir).isDirectory()) {
      refuse(`control log directory ${o.controlLogDir} doesn't exist`, "create it first; swtool never creates it, so a typo cannot send logs elsewhere");
    }
    if ((o.controlLogVer ?? "4-0-1") !== "4-0-1") refuse(`unsupported control log version ${o.controlLogVer}`, "use --control_log_ver 4-0-1");
    if (!o.apid) refuse("the APID is needed to write control logs", "add --apid <4-character APID>");
  }
  if ((o.clientCert === undefined) !== (o.clientKey === undefined)) {
    refuse("both the client certificate and the client key must be given", "add both --client_cert and --client_key, or neither");
  }
  if (o.ed25519PrivateKey !== undefined && o.ed25519PrivateKeyFile !== undefined) refuse("both --ed25519_private_key_file and --ed25519_private_key were given", "give one of them");
  if (o.p256r1PrivateKey !== undefined && o.p256r1PrivateKeyFile !== undefined) refuse("both --p256r1_private_key_file and --p256r1_private_key were given", "give one of them");
  if (o.eddsaCsr === undefined && o.ed25519PrivateKeyFile === undefined) {
    refuse("no Ed25519 public key: give --eddsa_csr (CSR from the device) or --ed25519_private_key_file (legacy PEM-key flow)");
  }
  if (o.ecdsaCsr === undefined && o.p256r1PrivateKeyFile === undefined) {
    refuse("no P-256 public key: give --ecdsa_csr (CSR from the device) or --p256r1_private_key_file (legacy PEM-key flow)");
  }
  if ((o.ecdsaCsr === undefined) !== (o.eddsaCsr === undefined)) refuse("both CSRs must be given: --eddsa_csr and --ecdsa_csr");
  if (o.eddsaCsr === undefined && !o.generateSmsn) refuse("--generate_smsn is needed when no CSR is given (the SMSN is made from --device_type, --dsn and --apid)");
  if (o.apid !== undefined) validateApid(o.apid);
  return o as T & CheckedInputs;
}

function readKeyFile(path: string, curve: Curve): DeviceKey {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot open the ${CURVES[curve].display} key file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return readPrivateKeyPem(text, curve, path);
}

/** What --generate_smsn needs, all three checked present. */
type SmsnGiven = { generateSmsn: true; deviceType: string; dsn: string; apid: string };
/** A curve's private key: a PEM file, or (without a file) hex. */
type KeyGiven<File extends keyof DeviceInputs, Hex extends keyof DeviceInputs> = { [K in File]: string } | ({ [K in File]?: undefined } & { [K in Hex]: string });
/**
 * Inputs as checkSignOptions lets them through: both device CSRs, or (the legacy PEM-key
 * flow) both private keys and what the SMSN is made of; --generate_smsn has its three inputs.
 */
export type CheckedInputs = DeviceInputs &
  (
    | ({ eddsaCsr: string; ecdsaCsr: string } & (SmsnGiven | { generateSmsn?: false }))
    | ({ eddsaCsr?: undefined; ecdsaCsr?: undefined } & SmsnGiven & KeyGiven<"ed25519PrivateKeyFile", "ed25519PrivateKey"> & KeyGiven<"p256r1PrivateKeyFile", "p256r1PrivateKey">)
  );

const smsnOf = (o: SmsnGiven & DeviceInputs, stage: Stage) =>
  computeSmsn({ deviceType: o.deviceType, dsn: o.dsn, apid: o.apid, stage, ...(o.boardId ? { boardId: o.boardId } : {}) });

/** A curve's private key when given (PEM file or hex): it goes in the output metadata. */
function privateKey(curve: Curve, file: string | undefined, hex: string | undefined): DeviceKey | undefined {
  if (file !== undefined) return readKeyFile(file, curve);
  return hex === undefined ? undefined : readPrivateKeyHex(hex, curve, `${curve}_private_key`);
}

/** Turns checked options into the CSRs to sign (device CSRs, or built from key files). */
export function deviceRequest(o: CheckedInputs, stage: Stage): DeviceRequest {
  let request: DeviceRequest;
  if (o.eddsaCsr === undefined) {
    // The legacy flow: the PC makes the SMSN, and the "CSRs" are the device keys' public halves.
    const smsn = smsnOf(o, stage);
    const ed25519 = o.ed25519PrivateKeyFile !== undefined ? readKeyFile(o.ed25519PrivateKeyFile, "ed25519") : readPrivateKeyHex(o.ed25519PrivateKey, "ed25519", "ed25519_private_key");
    const p256r1 = o.p256r1PrivateKeyFile !== undefined ? readKeyFile(o.p256r1PrivateKeyFile, "p256r1") : readPrivateKeyHex(o.p256r1PrivateKey, "p256r1", "p256r1_private_key");
    const csrs = { ed25519: { curve: "ed25519", publicKey: ed25519.publicKey, smsn }, p256r1: { curve: "p256r1", publicKey: p256r1.publicKey, smsn } } as const;
    request = { csrs, keys: { ed25519, p256r1 }, legacyKeys: true, expectedSmsn: smsn };
  } else {
    const expectedSmsn = o.generateSmsn ? smsnOf(o, stage) : undefined;
    const keys: Partial<Record<Curve, DeviceKey>> = {};
    const edKey = privateKey("ed25519", o.ed25519PrivateKeyFile, o.ed25519PrivateKey);
    if (edKey) keys.ed25519 = edKey;
    const ed25519 = decodeCsrBase64(o.eddsaCsr, "ed25519", "eddsa_csr");
    const pKey = privateKey("p256r1", o.p256r1PrivateKeyFile, o.p256r1PrivateKey);
    if (pKey) keys.p256r1 = pKey;
    const p256r1 = decodeCsrBase64(o.ecdsaCsr, "p256r1", "ecdsa_csr");
    request = { csrs: { ed25519, p256r1 }, keys, legacyKeys: false, ...(expectedSmsn ? { expectedSmsn } : {}) };
  }
  if (o.apid) request.apid = o.apid;
  if (o.dsn) request.dsn = o.dsn;
  return request;
}
