// The signing tool's output, both ways: written byte for byte as Amazon's sid_signing_tool
// writes it (JSON with 4-space indent, or "flat" text), and read back (by `swtool verify` and
// `swtool mfg build`) with every field checked.
// JSON: {"eD25519": b64 chain, "p256R1": b64 chain, "label": ..., "metadata": {"smsn", "apid",
//  "devicePrivKeyEd25519"?, "devicePrivKeyP256R1"?}, "applicationServerPublicKey"?: hex}
import { FormatError } from "../lib/errors.ts";
import { toBase64, toHex } from "../lib/bytes.ts";
import { encodeChain } from "../sidewalk/chain.ts";
import type { Curve } from "../sidewalk/curves.ts";
import type { DeviceChains } from "../sidewalk/signer.ts";
import type { Stage } from "../sidewalk/smsn.ts";

/** One signed device, as the signing tool reports it. */
export interface SigningResult {
  chains: DeviceChains;
  stage: Stage;
  apid?: string;
  /** Device private keys of the legacy flow (they go into the output's metadata). */
  keys: Partial<Record<Curve, { privateKey: Uint8Array }>>;
  applicationServerPublicKey?: Uint8Array;
}

export interface SignOutput {
  eD25519: string;
  p256R1: string;
  label: string;
  metadata: {
    smsn: string;
    apid?: string;
    devicePrivKeyEd25519?: string;
    devicePrivKeyP256R1?: string;
  };
  applicationServerPublicKey?: string;
}

export function isSigningOutput(doc: unknown): boolean {
  return typeof doc === "object" && doc !== null && ("eD25519" in doc || "p256R1" in doc);
}

export function readSigningOutput(doc: unknown): SignOutput {
  if (!isSigningOutput(doc)) throw new FormatError('signing output: expected "eD25519" and "p256R1" keys');
  const d = doc as Record<string, unknown>;
  for (const k of ["eD25519", "p256R1"]) {
    if (typeof d[k] !== "string") throw new FormatError(`signing output: "${k}" is ${d[k] === undefined ? "missing" : "not a string"}`);
  }
  const meta = d.metadata;
  if (typeof meta !== "object" || meta === null) throw new FormatError('signing output: "metadata" is missing');
  if (typeof (meta as Record<string, unknown>).smsn !== "string") throw new FormatError('signing output: "metadata.smsn" is missing');
  return doc as SignOutput;
}

export function signingOutput(r: SigningResult): SignOutput {
  const metadata: SignOutput["metadata"] = { smsn: toHex(r.chains.smsn) };
  if (r.apid) metadata.apid = r.apid;
  if (r.keys.ed25519) metadata.devicePrivKeyEd25519 = toHex(r.keys.ed25519.privateKey);
  if (r.keys.p256r1) metadata.devicePrivKeyP256R1 = toHex(r.keys.p256r1.privateKey);
  const out: SignOutput = {
    eD25519: toBase64(encodeChain(r.chains.ed25519)),
    p256R1: toBase64(encodeChain(r.chains.p256r1)),
    label: r.stage,
    metadata,
  };
  if (r.applicationServerPublicKey) out.applicationServerPublicKey = toHex(r.applicationServerPublicKey);
  return out;
}

/** Whether the output carries the device's private keys (the legacy PEM-key flow). */
export function holdsPrivateKeys(r: SigningResult): boolean {
  return Boolean(r.keys.ed25519 || r.keys.p256r1);
}

/** File mode for a signing output: owner-only when it carries private keys. */
export function outputMode(r: SigningResult): number {
  return holdsPrivateKeys(r) ? 0o600 : 0o644;
}

export function formatJson(r: SigningResult): string {
  return JSON.stringify(signingOutput(r), null, 4) + "\n";
}

export function formatFlat(r: SigningResult): string {
  const o = signingOutput(r);
  let text = `smsn: ${o.metadata.smsn}\n`;
  if (o.metadata.devicePrivKeyEd25519) text += `devicePrivKeyEd25519: ${o.metadata.devicePrivKeyEd25519}\n`;
  if (o.metadata.devicePrivKeyP256R1) text += `devicePrivKeyP256R1: ${o.metadata.devicePrivKeyP256R1}\n`;
  text += `ED25519 Sidewalk Certificate Chain: ${o.eD25519}\n`;
  text += `P256R1 Sidewalk Certificate Chain: ${o.p256R1}\n`;
  text += `Label: ${o.label}\n`;
  // The reference prints no space after this colon; line scripts may depend on it.
  if (o.applicationServerPublicKey) text += `Application Server Public Key:${o.applicationServerPublicKey}\n`;
  return text;
}
