// CSV as RFC 4180 writes it (quoted fields, doubled quotes, CRLF or LF), for batch sign files,
// Amazon's feedback CSVs (JSON inside cells) and the bulk-import CSV.
import { FormatError } from "../lib/errors.ts";

/** Parses CSV text into rows of fields. A UTF-8 BOM and a final line break are ignored. */
export function parseCsv(text: string, source = "CSV"): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let quoted = false;
  let fieldStarted = false;
  const endField = () => {
    row.push(field);
    field = "";
    fieldStarted = false;
  };
  const endRow = () => {
    endField();
    if (!(row.length === 1 && row[0] === "")) rows.push(row);
    row = [];
  };
  for (; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"') {
      if (fieldStarted && field !== "") throw new FormatError(`${source} line ${line}: a quote inside an unquoted field`, { advice: 'quote the whole field and double inner quotes ("")' });
      quoted = true;
      fieldStarted = true;
    } else if (c === ",") endField();
    else if (c === "\r" && text[i + 1] === "\n") {
      /* CR LF: the LF ends the row */
    } else if (c === "\n") {
      endRow();
      line++;
    } else {
      field += c;
      fieldStarted = true;
    }
  }
  if (quoted) throw new FormatError(`${source}: a quoted field is not closed (from line ${line})`);
  if (field !== "" || row.length) endRow();
  return rows;
}

/** Rows as objects keyed by the header row (header names trimmed). */
export function parseCsvRecords(text: string, source = "CSV"): { header: string[]; records: Record<string, string>[] } {
  const [header, ...rows] = parseCsv(text, source);
  if (!header) throw new FormatError(`${source} is empty`, { advice: "the first line must name the columns" });
  const names = header.map((h) => h.trim());
  const records = rows.map((r, n) => {
    if (r.length !== names.length) throw new FormatError(`${source} row ${n + 2}: ${r.length} fields, but the header names ${names.length}`);
    return Object.fromEntries(names.map((name, k) => [name, r[k]!]));
  });
  return { header: names, records };
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function formatCsvRow(fields: string[]): string {
  return fields.map(quote).join(",") + "\r\n";
}
