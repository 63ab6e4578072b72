// A rehearsal product's test PKI in a file, so several HSM simulators can hold DAKs of ONE
// product (the fleet refuses HSMs whose chains above the DAK differ). The file holds the test
// root's, Sidewalk's, manufacturer's and product's private keys: test-only, written 0600.
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { exactName, publishFileSync } from "../../lib/atomic.ts";
import { fromHex, toHex } from "../../lib/bytes.ts";
import { FormatError } from "../../lib/errors.ts";
import { CURVE_NAMES, type Curve } from "../../sidewalk/curves.ts";
import { anotherDak, makeProductPki, type TestPki } from "../../sidewalk/pki.ts";

const FORMAT = "swtool-test-product-pki/1";

function encode(product: Record<Curve, TestPki>): string {
  const curves = Object.fromEntries(
    CURVE_NAMES.map((c) => [
      c,
      {
        kind: product[c].kind,
        caCerts: product[c].caCerts.map((x) => ({ serial: toHex(x.serial), publicKey: toHex(x.publicKey), signature: toHex(x.signature) })),
        privateKeys: product[c].privateKeys.map(toHex),
      },
    ]),
  );
  return `${JSON.stringify({ format: FORMAT, note: "test PKI for rehearsals only: its root is not Amazon's", curves }, null, 2)}\n`;
}

function decode(text: string, path: string): Record<Curve, TestPki> {
  const bad = (why: string) => new FormatError(`${path} is not a test product PKI written by swtool: ${why}`, { advice: "give a new file name to make one, or the file an earlier load-test-chain --product-pki wrote" });
  let doc: { format?: unknown; curves?: Record<string, { kind?: unknown; caCerts?: unknown; privateKeys?: unknown }> };
  try {
    doc = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  if (doc?.format !== FORMAT || typeof doc.curves !== "object" || doc.curves === null) throw bad(`no "format": "${FORMAT}"`);
  const out = {} as Record<Curve, TestPki>;
  for (const curve of CURVE_NAMES) {
    const c = doc.curves[curve];
    if (!c || c.kind !== "sidewalk" || !Array.isArray(c.caCerts) || !Array.isArray(c.privateKeys) || c.caCerts.length !== c.privateKeys.length || c.caCerts.length < 2) {
      throw bad(`the ${curve} part is incomplete`);
    }
    try {
      out[curve] = {
        curve,
        kind: "sidewalk",
        caCerts: c.caCerts.map((x: { serial: string; publicKey: string; signature: string }) => ({ serial: fromHex(x.serial), publicKey: fromHex(x.publicKey), signature: fromHex(x.signature) })),
        privateKeys: (c.privateKeys as string[]).map((k) => fromHex(k)),
      };
    } catch {
      throw bad(`the ${curve} part holds something that is not hex`);
    }
  }
  return out;
}

/**
 * The PKI to load into one more HSM of the product kept in `path`: the product's first DAK when
 * the file is new (it is written first, 0600, never over another file), else a new DAK of it.
 */
export function productPkiFor(path: string): { pki: Record<Curve, TestPki>; created: boolean } {
  if (existsSync(path)) return { pki: anotherDak(decode(readFileSync(path, "utf8"), path)), created: false };
  const product = makeProductPki();
  publishFileSync(dirname(path) || ".", exactName(path), encode(product), 0o600);
  return { pki: product, created: true };
}
