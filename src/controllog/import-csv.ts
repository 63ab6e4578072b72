// The device CSV for AWS IoT Core for Amazon Sidewalk's bulk import (StartWirelessDeviceImportTask,
// Sidewalk.DeviceCreationFile in S3), as AWS's developer guide documents it ("Provisioning
// Sidewalk devices using import tasks", CSV file format): row 1 is the keyword `smsn`, every
// later row one device's SMSN in 64 hex characters; here each device once. The hex is written
// in lower case, as in the control logs Amazon matches the file against (AWS's sample uses
// upper case, so the match does not depend on case). Built from control logs (streamed,
// shape-checked) or from a list of SMSNs (e.g. the ledger's provisioned devices).
import { SwtoolError } from "../lib/errors.ts";
import { fromHex } from "../lib/bytes.ts";
import { writeOutput } from "../lib/atomic.ts";
import { readEntry } from "./format.ts";
import { controlLogFiles } from "./inputs.ts";
import { DIGEST_LENGTH, SmsnIndex } from "./smsn-index.ts";
import { readEntries } from "./stream-entries.ts";

export const IMPORT_CSV_HEADER = "smsn";
const SMSN_RE = /^[0-9a-f]{64}$/;

export interface ImportCsvResult {
  path: string;
  devices: number;
  duplicates: number;
}

export interface SmsnSource {
  smsn: string;
  /** Where it came from, for messages. */
  from: string;
}

/** SMSNs of every entry in the control logs under `paths`; a malformed log stops with its path. */
export async function* smsnsFromControlLogs(paths: string[]): AsyncGenerator<SmsnSource> {
  for await (const path of controlLogFiles(paths)) {
    const found: string[] = [];
    try {
      readEntries(path, (raw, i) => found.push(readEntry(raw, i).serialNumber));
    } catch (e) {
      if (e instanceof SwtoolError) throw new SwtoolError(`${path}: ${e.message}`, { advice: "fix or remove that control log (swtool consolidate names every problem)" });
      throw e;
    }
    for (const smsn of found) yield { smsn, from: path };
  }
}

/** Writes the import CSV to `output` (never over an existing file; `-` is stdout); each SMSN once. */
export async function writeImportCsv(smsns: AsyncIterable<SmsnSource> | Iterable<SmsnSource>, output: string): Promise<ImportCsvResult> {
  const seen = new SmsnIndex();
  const noDigest = new Uint8Array(DIGEST_LENGTH);
  let devices = 0;
  let duplicates = 0;
  try {
    const path = await writeOutput(output, async (file) => {
      let pending = `${IMPORT_CSV_HEADER}\r\n`;
      for await (const { smsn, from } of smsns) {
        const value = smsn.toLowerCase();
        if (!SMSN_RE.test(value)) throw new SwtoolError(`${from}: ${JSON.stringify(smsn)} is not a 64-character hex SMSN`);
        if (seen.add(fromHex(value), noDigest, 0).status !== "new") {
          duplicates++;
          continue;
        }
        devices++;
        pending += `${value}\r\n`;
        if (pending.length > 1 << 20) {
          await file.write(pending);
          pending = "";
        }
      }
      if (devices === 0) throw new SwtoolError("no devices to put in the import CSV", { advice: "give control logs (or a ledger) with provisioned devices" });
      await file.write(pending);
    });
    return { path, devices, duplicates };
  } finally {
    seen.close();
  }
}
