// The signing tool's output JSON (Amazon's sid_signing_tool and `swtool sign`):
// {"eD25519": b64 chain, "p256R1": b64 chain, "label": ..., "metadata": {"smsn", "apid",
//  "devicePrivKeyEd25519"?, "devicePrivKeyP256R1"?}, "applicationServerPublicKey"?: hex}
import { FormatError } from "../lib/errors.ts";

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
