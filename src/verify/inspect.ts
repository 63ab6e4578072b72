// Verifies whatever an operator holds: a bare base64 chain, a signing-output JSON, or a control
// log (single or consolidated): the `swtool verify` use case (and the demo's final check).
import { existsSync, readFileSync, statSync } from "node:fs";
import { FormatError } from "../lib/errors.ts";
import { parseControlLog } from "../controllog/format.ts";
import { isSigningOutput, readSigningOutput } from "../formats/signing-output.ts";
import { toHex } from "../lib/bytes.ts";
import { decodeChainBase64, verifyChain, type ChainReport } from "../sidewalk/chain.ts";
import { parseStrictJson } from "../lib/strict-json.ts";
import type { Curve } from "../sidewalk/curves.ts";

export interface InspectedChain {
  /** Where the chain came from, e.g. "controlLogs[3] ed25519". */
  source: string;
  /** The SMSN the container claims for this chain, when it claims one. */
  claimedSmsn?: string;
  report?: ChainReport;
  /** A parse error or a claimed-SMSN mismatch. */
  error?: string;
}

function inspectOne(source: string, base64: string, curve: Curve | undefined, claimedSmsn?: string): InspectedChain {
  const out: InspectedChain = { source };
  if (claimedSmsn !== undefined) out.claimedSmsn = claimedSmsn;
  try {
    const chain = decodeChainBase64(base64, curve, source);
    out.report = verifyChain(chain);
    const deviceSerial = toHex(chain.certs[0]!.serial);
    if (claimedSmsn !== undefined && deviceSerial !== claimedSmsn.toLowerCase()) {
      out.error = `device serial ${deviceSerial} is not the SMSN ${claimedSmsn} the file names`;
    }
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

/** `input` is a path to a JSON file, or the chain itself in base64. */
export function inspectInput(input: string): InspectedChain[] {
  const isFile = input.length < 4096 && existsSync(input) && statSync(input).isFile();
  if (!isFile) {
    if (/[\\/]|\.json$|\.txt$/i.test(input) && !/^[A-Za-z0-9+/=\s]+$/.test(input)) {
      throw new FormatError(`${input}: no such file`, { advice: "give a path to a signing-output JSON or control log, or a base64 chain" });
    }
    return [inspectOne("chain", input, undefined)];
  }
  const text = readFileSync(input, "utf8");
  // A file holding just a base64 chain; anything that opens like JSON is read as JSON, strictly
  // (a truncated control log is called truncated, not "not valid base64").
  if (!/^\uFEFF?\s*[{[]/.test(text)) return [inspectOne(input, text, undefined)];
  const doc = parseStrictJson(text, input);
  if (isSigningOutput(doc)) {
    const o = readSigningOutput(doc);
    return [inspectOne("eD25519", o.eD25519, "ed25519", o.metadata.smsn), inspectOne("p256R1", o.p256R1, "p256r1", o.metadata.smsn)];
  }
  if (typeof doc === "object" && doc !== null && "controlLogs" in doc) {
    const entries = parseControlLog(text);
    if (entries.length === 0) {
      throw new FormatError(`${input}: the control log holds no entries ("controlLogs" is empty)`, { advice: "an empty log proves nothing and Amazon refuses it: give the log the line wrote for the device" });
    }
    return entries.flatMap((e, i) => [
      inspectOne(`controlLogs[${i}] ed25519`, e.ed25519Chain, "ed25519", e.serialNumber),
      inspectOne(`controlLogs[${i}] p256r1`, e.p256r1Chain, "p256r1", e.serialNumber),
    ]);
  }
  throw new FormatError(`${input}: JSON that is neither a signing output nor a control log`, {
    advice: 'expected "eD25519"/"p256R1" keys (signing output) or "controlLogs" (control log)',
  });
}
