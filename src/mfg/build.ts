// `mfg build` as a library: one page from input files to output files, and a batch over a
// directory of signing outputs (one page per file; a bad file is reported, the rest go on).
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { UsageError, VerificationError } from "../lib/errors.ts";
import { isSigningOutput } from "../formats/signing-output.ts";
import { toHex } from "../lib/bytes.ts";
import { existingPage, readJsonFile, writePageFile } from "./files.ts";
import { checkOutputPath } from "../lib/atomic.ts";
import { writeIntelHex } from "./ihex.ts";
import { deviceFromAwsPair, deviceFromSigningOutput, type MfgDevice } from "./input.ts";
import type { PageLayout } from "./layout.ts";
import { checkPage } from "./check.ts";
import { buildPage, decodePage } from "./page.ts";

export interface PageInputs {
  /** Signing output, ACS console JSON or AWS certificate JSON. */
  json?: string;
  wirelessDeviceJson?: string;
  deviceProfileJson?: string;
}

export interface BuildRequest {
  inputs: PageInputs;
  appServerKey?: Uint8Array;
  layout: PageLayout;
  outputBin?: string;
  outputHex?: string;
  address: number;
}

export interface BuildResult {
  source: string;
  smsn: string;
  apid: string;
  /** Both chains end at Amazon's production root. */
  production: boolean;
  layout: "tlv" | "fixed";
  version: number;
  size: number;
  address: number;
  outputBin?: string;
  outputHex?: string;
  /** --output_bin already held a page; its other values were kept. */
  merged: boolean;
}

export function readDevice(inputs: PageInputs, appServerKey?: Uint8Array): { device: MfgDevice; source: string } {
  const pair = inputs.wirelessDeviceJson !== undefined || inputs.deviceProfileJson !== undefined;
  if (pair && inputs.json !== undefined) throw new UsageError("give either a signing-output JSON or --wireless_device_json with --device_profile_json, not both");
  if (pair) {
    if (!inputs.wirelessDeviceJson || !inputs.deviceProfileJson) throw new UsageError("--wireless_device_json and --device_profile_json go together", { advice: "give both AWS responses" });
    const device = deviceFromAwsPair(readJsonFile(inputs.wirelessDeviceJson, "wireless device JSON"), readJsonFile(inputs.deviceProfileJson, "device profile JSON"), inputs.wirelessDeviceJson, inputs.deviceProfileJson);
    if (appServerKey && toHex(appServerKey) !== toHex(device.appServerPublicKey)) {
      throw new UsageError("--app_srv_pub differs from Sidewalk.ApplicationServerPublicKey of the device profile", { advice: "drop --app_srv_pub; the device profile's key is the one the cloud uses" });
    }
    return { device, source: inputs.wirelessDeviceJson };
  }
  if (!inputs.json) {
    throw new UsageError("no input", { advice: "give a signing-output JSON (as the argument or --certificate_json FILE), or --wireless_device_json and --device_profile_json, or --from-dir DIR" });
  }
  return { device: deviceFromSigningOutput(readJsonFile(inputs.json, "signing output"), inputs.json, appServerKey), source: inputs.json };
}

/** Reads the page back as the device will and refuses one it would not load whole. */
function assertLoadable(page: Uint8Array, layout: PageLayout): void {
  const failed = checkPage(decodePage(page, layout)).checks.filter((c) => !c.ok);
  if (failed.length) {
    throw new VerificationError(`the page would not load correctly on the device: ${failed.map((c) => c.detail).join("; ")}`, {
      advice: failed.some((c) => c.detail.includes("not a multiple of"))
        ? "these chains use serial expansion with a serial length the firmware cannot read back from a TLV page; sign with 4-byte CA serials"
        : "report this with the input file",
    });
  }
}

export function buildFromFiles(req: BuildRequest): BuildResult {
  if (!req.outputBin && !req.outputHex) throw new UsageError("no output", { advice: "add --output_bin FILE and/or --output_hex FILE" });
  const { device, source } = readDevice(req.inputs, req.appServerKey);
  const fresh = buildPage(device, req.layout);
  assertLoadable(fresh, req.layout);
  const existing = req.outputBin ? existingPage(req.outputBin, req.layout) : undefined;
  const page = existing ? buildPage(device, req.layout, existing) : fresh;
  // provision.py writes the hex from a fresh page, never from the merged bin.
  const hex = req.outputHex ? writeIntelHex(fresh, req.address) : undefined;
  // Both paths checked before either is written, so a bad second path leaves no lone first file.
  if (req.outputBin) checkOutputPath(req.outputBin, { replace: true, flag: "--output_bin" });
  if (req.outputHex) checkOutputPath(req.outputHex, { replace: true, flag: "--output_hex" });
  if (req.outputBin) writePageFile(req.outputBin, page);
  if (req.outputHex && hex) writePageFile(req.outputHex, hex);
  return {
    source,
    smsn: toHex(device.smsn),
    apid: device.apid,
    production: device.production,
    layout: req.layout.kind,
    version: req.layout.version,
    size: page.length,
    address: req.address,
    ...(req.outputBin ? { outputBin: req.outputBin } : {}),
    ...(req.outputHex ? { outputHex: req.outputHex } : {}),
    merged: existing !== undefined && existing.length > 0,
  };
}

export interface BatchResult {
  built: BuildResult[];
  skipped: { file: string; reason: string }[];
  failed: { file: string; error: string; advice?: string }[];
}

/** One page per signing output in `dir`: <out>/<name>.bin and <out>/<name>.hex. */
export function buildBatch(o: { dir: string; outDir: string; appServerKey?: Uint8Array; layout: PageLayout; address: number; formats: ("bin" | "hex")[] }): BatchResult {
  let names: string[];
  try {
    names = readdirSync(o.dir).filter((n) => n.toLowerCase().endsWith(".json")).sort();
  } catch (e) {
    throw new UsageError(`cannot read --from-dir ${o.dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const result: BatchResult = { built: [], skipped: [], failed: [] };
  for (const name of names) {
    const file = join(o.dir, name);
    try {
      if (!isSigningOutput(readJsonFile(file, "signing output"))) {
        result.skipped.push({ file, reason: "not a signing output (no eD25519/p256R1)" });
        continue;
      }
      const stem = join(o.outDir, basename(name, name.slice(name.lastIndexOf("."))));
      result.built.push(
        buildFromFiles({
          inputs: { json: file },
          ...(o.appServerKey ? { appServerKey: o.appServerKey } : {}),
          layout: o.layout,
          address: o.address,
          ...(o.formats.includes("bin") ? { outputBin: `${stem}.bin` } : {}),
          ...(o.formats.includes("hex") ? { outputHex: `${stem}.hex` } : {}),
        }),
      );
    } catch (e) {
      const err = e as Error & { advice?: string };
      result.failed.push({ file, error: err.message, ...(err.advice ? { advice: err.advice } : {}) });
    }
  }
  if (names.length === 0) throw new UsageError(`--from-dir ${o.dir} holds no .json files`);
  return result;
}
