// The signing tool's two output formats, byte for byte as Amazon's sid_signing_tool writes
// them: JSON (4-space indent) and "flat" text.
import { encodeChain } from "../sidewalk/chain.ts";
import { toBase64, toHex } from "../lib/bytes.ts";
import type { SignOutput } from "../formats/signing-output.ts";
import type { SigningResult } from "./sign.ts";

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
