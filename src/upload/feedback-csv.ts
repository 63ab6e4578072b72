// Amazon's feedback CSV for uploaded control logs: columns `Record Id, ProductInstanceIdentifier,
// ProductIdentifier, Status, Error Details` (RFC 4180, read by formats/csv.ts), where the
// identifier cells hold JSON such as {"serialNumber":"<smsn hex>"} and
// {"advertisedProductId":"<apid>"}. Header names are matched ignoring case and spaces.
import { FormatError } from "../lib/errors.ts";
import { parseCsv } from "../formats/csv.ts";

export interface FeedbackRow {
  source: string;
  /** 1-based line of the row in its file (header is line 1). */
  row: number;
  recordId: string;
  /** SMSN, lowercase hex. */
  smsn: string;
  apid?: string;
  status: string;
  accepted: boolean;
  errorDetails: string;
}

const COLUMNS = {
  recordId: "recordid",
  instance: "productinstanceidentifier",
  product: "productidentifier",
  status: "status",
  errorDetails: "errordetails",
} as const;

const key = (name: string) => name.toLowerCase().replace(/[\s_-]/g, "");

/** Statuses that mean Amazon took the device; anything else is a failure to look at. */
const ACCEPTED = /^(success(ful)?|succeeded|accepted|ok|processed|complete(d)?)$/i;

function jsonCell(text: string, field: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FormatError(`${where}: ${field} is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new FormatError(`${where}: ${field} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function parseFeedbackCsv(text: string, source: string): FeedbackRow[] {
  const [header, ...rows] = parseCsv(text, source);
  if (!header) throw new FormatError(`${source} is empty`, { advice: "a feedback CSV starts with the header Record Id, ProductInstanceIdentifier, ProductIdentifier, Status, Error Details" });
  const index = new Map(header.map((h, i) => [key(h), i]));
  const col = (name: keyof typeof COLUMNS, required: boolean) => {
    const i = index.get(COLUMNS[name]);
    if (i === undefined && required) {
      throw new FormatError(`${source}: no "${name === "instance" ? "ProductInstanceIdentifier" : name === "status" ? "Status" : name}" column (header: ${header.join(", ")})`);
    }
    return i;
  };
  const cInstance = col("instance", true)!;
  const cStatus = col("status", true)!;
  const cRecord = col("recordId", false);
  const cProduct = col("product", false);
  const cDetails = col("errorDetails", false);
  return rows.map((cells, n) => {
    const where = `${source} line ${n + 2}`;
    const cell = (i: number | undefined) => (i === undefined ? "" : (cells[i] ?? "").trim());
    const instance = jsonCell(cell(cInstance), "ProductInstanceIdentifier", where);
    const smsn = instance.serialNumber;
    if (typeof smsn !== "string" || !/^[0-9a-fA-F]{64}$/.test(smsn)) throw new FormatError(`${where}: ProductInstanceIdentifier has no 64-character hex serialNumber`);
    const row: FeedbackRow = {
      source,
      row: n + 2,
      recordId: cell(cRecord),
      smsn: smsn.toLowerCase(),
      status: cell(cStatus),
      accepted: ACCEPTED.test(cell(cStatus)),
      errorDetails: cell(cDetails),
    };
    if (cell(cProduct)) {
      const apid = jsonCell(cell(cProduct), "ProductIdentifier", where).advertisedProductId;
      if (typeof apid === "string") row.apid = apid;
    }
    return row;
  });
}

export interface DeviceFeedback {
  smsn: string;
  /** The latest row for the device (files are read in name order, later rows win). */
  latest: FeedbackRow;
  rows: number;
}

/** One result per device; a later row (e.g. after a re-upload) replaces an earlier one. */
export function latestPerDevice(rows: FeedbackRow[]): Map<string, DeviceFeedback> {
  const out = new Map<string, DeviceFeedback>();
  for (const row of rows) {
    const seen = out.get(row.smsn);
    out.set(row.smsn, { smsn: row.smsn, latest: row, rows: (seen?.rows ?? 0) + 1 });
  }
  return out;
}
