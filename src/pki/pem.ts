// PEM armour (RFC 7468): the text form nginx, OpenSSL and yubihsm-connector clients read for
// certificates and keys. Strict on input: one block of the expected label, base64 that decodes.
import { FormatError } from "../lib/errors.ts";
import { fromBase64, toBase64 } from "../lib/bytes.ts";

export function toPem(label: string, der: Uint8Array | ArrayBuffer): string {
  const body = toBase64(der instanceof Uint8Array ? der : new Uint8Array(der)).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${body.join("\n")}\n-----END ${label}-----\n`;
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The DER inside the first PEM block whose label is one of `labels`. */
export function fromPem(text: string, labels: readonly string[], field: string): { label: string; der: Uint8Array } {
  for (const m of text.matchAll(BLOCK_RE)) {
    const label = m[1]!;
    if (!labels.includes(label)) continue;
    return { label, der: fromBase64(m[2]!.replace(/\s+/g, ""), field) };
  }
  const found = [...text.matchAll(BLOCK_RE)].map((m) => m[1]);
  throw new FormatError(
    `${field}: no PEM block ${labels.map((l) => `"${l}"`).join(" or ")} found${found.length ? ` (found ${found.map((l) => `"${l}"`).join(", ")})` : ""}`,
    { advice: `give the ${labels[0]!.toLowerCase()} file in PEM form (-----BEGIN ${labels[0]}-----)` },
  );
}
