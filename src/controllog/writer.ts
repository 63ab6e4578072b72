// Writing per-device control logs (version 4-0-1) as the reference signing tool names and
// formats them, `C_CONTROL_LOG_<yyyyMMddHHmmss>.txt`, but never sleeping and never
// overwriting: a second log in the same second gets `_2`, `_3`, ... and the file appears
// whole or not at all (see atomic.ts), also when several processes write to one directory.
import { SwtoolError } from "../lib/errors.ts";
import { encodeChain, type Chain } from "../sidewalk/chain.ts";
import { toBase64, toHex } from "../lib/bytes.ts";
import type { DeviceChains } from "../sidewalk/signer.ts";
import { validateApid } from "../sidewalk/smsn.ts";
import { publishFile, publishFileSync } from "../lib/atomic.ts";
import { CONTROL_LOG_VERSION, controlLogFileName, entryObject, formatControlLog, LABELS, readEntry, type ControlLogEntry, type Label } from "./format.ts";

export interface WriteControlLogOptions {
  /** The time in the file name (default: now, local time as the reference uses). */
  now?: Date;
}

/** The control log entry for one signed device. */
export function controlLogEntryFor(chains: DeviceChains, apid: string, label: Label): ControlLogEntry {
  if (!(LABELS as readonly string[]).includes(label)) {
    throw new SwtoolError(`control log label ${JSON.stringify(label)} is not production, preproduction or test`);
  }
  const serial = (chain: Chain) => toHex(chain.certs[0]!.serial);
  const smsn = toHex(chains.smsn);
  for (const chain of [chains.ed25519, chains.p256r1]) {
    if (serial(chain) !== smsn) throw new SwtoolError(`the ${chain.curve} chain's device serial ${serial(chain)} is not the SMSN ${smsn}`);
  }
  return {
    version: CONTROL_LOG_VERSION,
    serialNumber: smsn,
    apid: validateApid(apid),
    ed25519Chain: toBase64(encodeChain(chains.ed25519)),
    p256r1Chain: toBase64(encodeChain(chains.p256r1)),
    label,
  };
}

function controlLogText(entries: ControlLogEntry[]): string {
  if (entries.length === 0) throw new SwtoolError("a control log needs at least one device entry");
  // Re-read each entry as a reader would, so a malformed entry fails here, not at Amazon.
  entries.forEach((e, i) => readEntry(entryObject(e), i));
  return formatControlLog(entries);
}

/** Writes one control log file into `dir` and returns its path. */
export async function writeControlLog(dir: string, entries: ControlLogEntry[], options: WriteControlLogOptions = {}): Promise<string> {
  const text = controlLogText(entries);
  const now = options.now ?? new Date();
  return publishFile(dir, (copy) => controlLogFileName(now, copy), (out) => out.write(text));
}

/** Synchronous writeControlLog, for callers that must not yield between devices. */
export function writeControlLogSync(dir: string, entries: ControlLogEntry[], options: WriteControlLogOptions = {}): string {
  const text = controlLogText(entries);
  const now = options.now ?? new Date();
  return publishFileSync(dir, (copy) => controlLogFileName(now, copy), text);
}
