// Control log fixtures: device chains under one in-memory test PKI (real signatures that
// verify), and control log entries and files built from them.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { formatControlLog, type ControlLogEntry, type Label } from "../../src/controllog/format.ts";
import { controlLogEntryFor } from "../../src/controllog/writer.ts";
import { CURVES, type Curve } from "../../src/sidewalk/curves.ts";
import { issueDeviceChain, makeTestPki, type TestPki } from "../../src/sidewalk/pki.ts";
import type { DeviceChains } from "../../src/sidewalk/signer.ts";
import { seed } from "../helpers/vectors.ts";

export interface TestLine {
  pkis: Record<Curve, TestPki>;
}

export function makeTestLine(): TestLine {
  return { pkis: { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") } };
}

async function chain(line: TestLine, curve: Curve, smsn: Uint8Array) {
  const c = CURVES[curve];
  const pki = line.pkis[curve];
  const devicePublicKey = c.publicKeyFromPrivate(c.randomPrivateKey());
  return issueDeviceChain(curve, pki.kind, pki.caCerts, devicePublicKey, smsn, (m) => c.sign(m, pki.privateKeys[0]!));
}

export async function makeDevice(line: TestLine, smsn: Uint8Array = new Uint8Array(randomBytes(32))): Promise<DeviceChains> {
  return { smsn, ed25519: await chain(line, "ed25519", smsn), p256r1: await chain(line, "p256r1", smsn) };
}

export async function makeEntry(line: TestLine, apid = "pd25", label: Label = "test"): Promise<ControlLogEntry> {
  return controlLogEntryFor(await makeDevice(line), apid, label);
}

/** Writes a control log file with the given entries (plain write: fixture, not under test). */
export function writeLogFile(dir: string, name: string, entries: ControlLogEntry[]): string {
  const path = join(dir, name);
  writeFileSync(path, formatControlLog(entries));
  return path;
}

/** The seed device (real Amazon chains) as a control log entry. */
export const SEED_ENTRY: ControlLogEntry = {
  version: "4-0-1",
  serialNumber: seed.smsn.smsn_hex,
  apid: "pd25",
  ed25519Chain: seed.chain.ed25519.base64,
  p256r1Chain: seed.chain.p256r1.base64,
  label: "production",
};
