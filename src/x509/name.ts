// Distinguished names (RFC 5280 section 4.1.2.4) from the command line and back to text.
// Accepted: "CN=dev 1, O=Acme, C=US" or OpenSSL's "/C=US/O=Acme/CN=dev 1", both read in the
// order written, which is the DER order, as `openssl x509 -subject` prints it. A backslash
// escapes the separator. C and serialNumber are PrintableString, emailAddress and DC
// IA5String, the rest UTF8String (as OpenSSL writes them).
import * as asn1js from "asn1js";
import * as pkijs from "pkijs";
import { UsageError } from "../lib/errors.ts";

type StringKind = "printable" | "ia5" | "utf8";
interface AttributeDef {
  oid: string;
  kind: StringKind;
}

const ATTRIBUTES: Record<string, AttributeDef> = {
  CN: { oid: "2.5.4.3", kind: "utf8" },
  C: { oid: "2.5.4.6", kind: "printable" },
  L: { oid: "2.5.4.7", kind: "utf8" },
  ST: { oid: "2.5.4.8", kind: "utf8" },
  O: { oid: "2.5.4.10", kind: "utf8" },
  OU: { oid: "2.5.4.11", kind: "utf8" },
  SERIALNUMBER: { oid: "2.5.4.5", kind: "printable" },
  TITLE: { oid: "2.5.4.12", kind: "utf8" },
  EMAILADDRESS: { oid: "1.2.840.113549.1.9.1", kind: "ia5" },
  DC: { oid: "0.9.2342.19200300.100.1.25", kind: "ia5" },
  UID: { oid: "0.9.2342.19200300.100.1.1", kind: "utf8" },
};
const SHORT_NAMES = Object.fromEntries(Object.entries(ATTRIBUTES).map(([name, def]) => [def.oid, name === "SERIALNUMBER" ? "serialNumber" : name === "EMAILADDRESS" ? "emailAddress" : name]));

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** Splits on unescaped `separator`, removing the escapes. */
function splitEscaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\\" && i + 1 < text.length) current += text[++i];
    else if (ch === separator) {
      parts.push(current);
      current = "";
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

function attributeValue(name: string, def: AttributeDef, value: string): asn1js.PrintableString | asn1js.IA5String | asn1js.Utf8String {
  if (def.kind === "printable") {
    if (!PRINTABLE.test(value)) throw new UsageError(`subject: ${name} may only hold letters, digits, spaces and '()+,-./:=? (got ${JSON.stringify(value)})`);
    if (name === "C" && !/^[A-Z]{2}$/.test(value)) throw new UsageError(`subject: C must be a two-letter country code such as US (got ${JSON.stringify(value)})`);
    return new asn1js.PrintableString({ value });
  }
  if (def.kind === "ia5") {
    if (!/^[\x00-\x7f]*$/.test(value)) throw new UsageError(`subject: ${name} must be ASCII (got ${JSON.stringify(value)})`);
    return new asn1js.IA5String({ value });
  }
  return new asn1js.Utf8String({ value });
}

/** Parses a subject given on the command line. */
export function parseName(text: string): pkijs.RelativeDistinguishedNames {
  const trimmed = text.trim();
  const parts = trimmed.startsWith("/") ? splitEscaped(trimmed.slice(1), "/") : splitEscaped(trimmed, ",");
  const rdns: asn1js.Set[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UsageError(`subject: "${part}" is not TYPE=value`, { advice: 'write the subject like "CN=device-0001,O=Acme,C=US"' });
    const type = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    const def = ATTRIBUTES[type.toUpperCase()];
    if (!def) throw new UsageError(`subject: unknown attribute type "${type}"`, { advice: `use one of ${Object.values(SHORT_NAMES).join(", ")}` });
    if (value === "") throw new UsageError(`subject: ${type} has an empty value`);
    if (value.length > 64 && def.oid !== ATTRIBUTES.EMAILADDRESS!.oid) throw new UsageError(`subject: ${type} is ${value.length} characters long; X.509 allows at most 64`);
    const atv = new pkijs.AttributeTypeAndValue({ type: def.oid, value: attributeValue(type.toUpperCase(), def, value) });
    rdns.push(new asn1js.Set({ value: [atv.toSchema()] }));
  }
  if (rdns.length === 0) throw new UsageError("subject: empty", { advice: 'give at least a common name: --subject "CN=device-0001"' });
  // One attribute per RDN, as OpenSSL writes names; pkijs alone would put all in one SET.
  return pkijs.RelativeDistinguishedNames.fromBER(new asn1js.Sequence({ value: rdns }).toBER());
}

/** "C=US, O=Acme, CN=dev 1" (DER order, as OpenSSL prints it). */
export function formatName(name: pkijs.RelativeDistinguishedNames): string {
  return name.typesAndValues
    .map((tv) => {
      const value = (tv.value as { valueBlock?: { value?: unknown } }).valueBlock?.value;
      const text = typeof value === "string" ? value : "#" + Buffer.from(tv.value.toBER()).toString("hex");
      return `${SHORT_NAMES[tv.type] ?? tv.type}=${text.replace(/([,\\])/g, "\\$1")}`;
    })
    .join(", ");
}
