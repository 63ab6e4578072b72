// Batch signing: one device per CSV row over one HSM session pool. Each good row gets its
// output JSON and control log; a bad row is reported and the others go on (unless fail-fast).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FormatError, SwtoolError, UsageError } from "../lib/errors.ts";
import { writeControlLog, controlLogEntryFor } from "../controllog/writer.ts";
import { checkOutputPath, exactName, publishFile } from "../lib/atomic.ts";
import { parseCsvRecords } from "../formats/csv.ts";
import { toHex } from "../lib/bytes.ts";
import type { DakSigner } from "../sidewalk/signer.ts";
import { deviceRequest, type CheckedInputs, type DeviceInputs } from "./request.ts";
import { formatJson, outputMode } from "../formats/signing-output.ts";
import { signRequest } from "./sign.ts";

/** Columns a batch file may have (underscore or hyphen spelling); `dsn` is required. */
export const BATCH_COLUMNS = [
  "dsn", "eddsa_csr", "ecdsa_csr", "ed25519_private_key_file", "p256r1_private_key_file",
  "ed25519_private_key", "p256r1_private_key", "device_type", "apid", "board_id",
] as const;
type Column = (typeof BATCH_COLUMNS)[number];

export interface BatchRow {
  /** 1-based line in the file (the header is line 1). */
  line: number;
  inputs: DeviceInputs;
}

export function readBatchFile(path: string, defaults: DeviceInputs): BatchRow[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the batch file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const { header, records } = parseCsvRecords(text, path);
  const columns = header.map((h) => h.toLowerCase().replace(/-/g, "_"));
  for (const c of columns) {
    if (!(BATCH_COLUMNS as readonly string[]).includes(c)) {
      throw new FormatError(`${path}: unknown column ${JSON.stringify(c)}`, { advice: `columns are: ${BATCH_COLUMNS.join(", ")}` });
    }
  }
  if (!columns.includes("dsn")) throw new FormatError(`${path}: no "dsn" column`, { advice: "the first line names the columns, e.g. dsn,ed25519_private_key_file,p256r1_private_key_file" });
  return records.map((record, n) => {
    const get = (c: Column) => {
      const k = header[columns.indexOf(c)];
      const v = k === undefined ? undefined : record[k]?.trim();
      return v === "" ? undefined : v;
    };
    const inputs: DeviceInputs = { ...defaults };
    const set = <K extends keyof DeviceInputs>(key: K, value: DeviceInputs[K] | undefined) => {
      if (value !== undefined) inputs[key] = value;
    };
    set("dsn", get("dsn"));
    set("eddsaCsr", get("eddsa_csr"));
    set("ecdsaCsr", get("ecdsa_csr"));
    set("ed25519PrivateKeyFile", get("ed25519_private_key_file"));
    set("p256r1PrivateKeyFile", get("p256r1_private_key_file"));
    set("ed25519PrivateKey", get("ed25519_private_key"));
    set("p256r1PrivateKey", get("p256r1_private_key"));
    set("deviceType", get("device_type"));
    set("apid", get("apid"));
    set("boardId", get("board_id"));
    return { line: n + 2, inputs };
  });
}

export interface BatchResult {
  line: number;
  dsn?: string;
  ok: boolean;
  smsn?: string;
  output?: string;
  controlLog?: string;
  error?: string;
}

export interface BatchOptions {
  signer: DakSigner;
  outDir: string;
  controlLogDir?: string;
  applicationServerPublicKey?: Uint8Array;
  failFast?: boolean;
  /** Rows signed at once (default DEFAULT_BATCH_CONCURRENCY). */
  concurrency?: number;
  /** Checks one row's inputs before signing (the same refusals as a single `sign`). */
  check: (inputs: DeviceInputs) => CheckedInputs;
  onResult?: (r: BatchResult) => void;
}

/** Output file for a device: named after its DSN, never overwriting an earlier one. */
async function writeDeviceOutput(dir: string, name: string, text: string, mode: number): Promise<string> {
  return publishFile(dir, exactName(join(dir, name)), (out) => out.write(text), { mode });
}

/** A DSN (or SMSN) as a file name: anything but letters, digits and `._-` becomes `_`. */
const outputStem = (id: string) => id.replace(/[^A-Za-z0-9._-]/g, "_");

/** Rows signed at once: enough to keep the HSM busy while outputs are written. */
export const DEFAULT_BATCH_CONCURRENCY = 4;

async function signRow(row: BatchRow, o: BatchOptions, taken: Set<string>): Promise<BatchResult> {
  const result: BatchResult = { line: row.line, ok: false };
  if (row.inputs.dsn) result.dsn = row.inputs.dsn;
  try {
    const request = deviceRequest(o.check(row.inputs), o.signer.stage);
    const name = `${outputStem(row.inputs.dsn ?? toHex(request.csrs.ed25519.smsn))}.json`;
    // Before the HSM signs: a row whose output cannot be written spends no signature.
    // Two rows for one DSN would both sign and the second fail to write: refuse it here.
    if (taken.has(name)) throw new UsageError(`line ${row.line}: another row already writes ${name}`, { advice: "give each row its own DSN" });
    checkOutputPath(join(o.outDir, name), { flag: `line ${row.line}: output` });
    taken.add(name);
    const signed = await signRequest(o.signer, request, o.applicationServerPublicKey);
    result.smsn = toHex(signed.chains.smsn);
    result.output = await writeDeviceOutput(o.outDir, name, formatJson(signed), outputMode(signed));
    if (o.controlLogDir) {
      result.controlLog = await writeControlLog(o.controlLogDir, [controlLogEntryFor(signed.chains, signed.apid!, signed.stage)]);
    }
    result.ok = true;
  } catch (e) {
    result.error = e instanceof SwtoolError ? e.message + (e.advice ? ` (${e.advice})` : "") : `internal error: ${(e as Error).message}`;
  }
  return result;
}

/**
 * Signs the rows, several at once, and reports results in file order. With fail-fast no new
 * row starts after a failure; rows already in flight finish and are reported.
 */
export async function runBatch(rows: BatchRow[], o: BatchOptions): Promise<BatchResult[]> {
  const done: (BatchResult | undefined)[] = new Array(rows.length);
  let next = 0;
  let reported = 0;
  let stop = false;
  const taken = new Set<string>();
  const report = () => {
    while (reported < rows.length && done[reported]) o.onResult?.(done[reported++]!);
  };
  const worker = async () => {
    while (!stop && next < rows.length) {
      const index = next++;
      const result = await signRow(rows[index]!, o, taken);
      done[index] = result;
      if (!result.ok && o.failFast) stop = true;
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? DEFAULT_BATCH_CONCURRENCY) }, worker));
  // With fail-fast, rows after a gap were never started: report only the contiguous prefix.
  return done.slice(0, reported) as BatchResult[];
}
