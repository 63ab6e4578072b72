// PEM armour (RFC 7468): find `-----BEGIN <label>-----` blocks in any text (console noise
// around them, CR LF, line breaks anywhere inside the base64) and write the strict form
// (64-character lines, LF). Decoding reuses the strict base64 of bytes.ts. The one PEM reader
// of the tree: x509 and the HSM connector's TLS files use it.
import { FormatError } from "./errors.ts";
import { fromBase64, toBase64 } from "./bytes.ts";

export interface PemBlock {
  label: string;
  der: Uint8Array;
}

const BEGIN_RE = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** Every PEM block in `text`, in order. A BEGIN without its END is refused as truncated. */
export function findPemBlocks(text: string, field = "PEM"): PemBlock[] {
  const blocks: PemBlock[] = [];
  BEGIN_RE.lastIndex = 0;
  for (let m = BEGIN_RE.exec(text); m; m = BEGIN_RE.exec(text)) {
    const label = m[1]!;
    const bodyStart = m.index + m[0].length;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, bodyStart);
    if (end < 0) {
      throw new FormatError(`${field}: "-----BEGIN ${label}-----" has no matching END line (truncated copy?)`, {
        advice: "copy the whole block, from the BEGIN line to the END line",
      });
    }
    // Serial consoles may add CR, spaces or NUL padding anywhere; base64 has none of those.
    const body = text.slice(bodyStart, end).replace(/[\s\0]+/g, "");
    blocks.push({ label, der: fromBase64(body, `${field} ${label}`) });
    BEGIN_RE.lastIndex = end + endMarker.length;
  }
  return blocks;
}

export function toPem(label: string, der: Uint8Array): string {
  const lines = toBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
