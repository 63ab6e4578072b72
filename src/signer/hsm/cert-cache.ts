// `--cache_cert`: the HSM's CA certificates for one product, kept on the line PC and keyed by
// the HSM's serial number, so that a start reads three objects instead of some forty. A cached
// chain is checked like one just read (DAK key on the HSM = DAK certificate's key, every CA
// certificate verifies); one that fails, or a file that cannot be read, is read again from the HSM.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { replaceFileSync } from "../../lib/atomic.ts";
import { fromHex, toHex } from "../../lib/bytes.ts";
import { FormatError } from "../../lib/errors.ts";
import type { Cert } from "../../sidewalk/chain.ts";
import { CURVE_NAMES, type Curve } from "../../sidewalk/curves.ts";
import type { Stage } from "../../sidewalk/smsn.ts";
import type { ProductChains } from "./layout.ts";

const CACHE_VERSION = 1;

/** Where the cache lives: $SWTOOL_CACHE_DIR, else the platform's per-user cache directory. */
export function defaultCertCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SWTOOL_CACHE_DIR) return env.SWTOOL_CACHE_DIR;
  if (process.platform === "win32" && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, "swtool", "hsm-certs");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "swtool", "hsm-certs");
}

/** One file per HSM and product tag (tags are [A-Za-z0-9_-], so the name needs no escaping). */
export function certCachePath(dir: string, hsmSerial: number, productTag: string): string {
  return join(dir, `hsm-${hsmSerial}-${productTag.replace(/[^A-Za-z0-9_-]/g, "_")}.json`);
}

/** ProductChains as JSON: the certificates' bytes in hex, with the HSM it came from. */
type CacheFile = Omit<ProductChains, "caCerts"> & {
  version: number;
  hsmSerial: number;
  caCerts: Record<Curve, { serial: string; publicKey: string; signature: string }[]>;
};

export function writeCertCache(dir: string, hsmSerial: number, chains: ProductChains): string {
  mkdirSync(dir, { recursive: true });
  const doc: CacheFile = {
    version: CACHE_VERSION,
    hsmSerial,
    productTag: chains.productTag,
    stage: chains.stage,
    layout: chains.layout,
    kind: chains.kind,
    ...(chains.hsmInfo ? { hsmInfo: chains.hsmInfo } : {}),
    dakKeyIds: chains.dakKeyIds,
    caCerts: Object.fromEntries(
      CURVE_NAMES.map((c) => [c, chains.caCerts[c].map((cert) => ({ serial: toHex(cert.serial), publicKey: toHex(cert.publicKey), signature: toHex(cert.signature) }))]),
    ) as CacheFile["caCerts"],
  };
  return replaceFileSync(certCachePath(dir, hsmSerial, chains.productTag), JSON.stringify(doc, null, 2) + "\n");
}

/**
 * The cached chains of `productTag` on HSM `hsmSerial` in `stage`, or undefined when there are
 * none. A file that is there but does not fit (another version, serial, tag or stage, bad JSON)
 * is a FormatError naming it, for the caller to warn about and read the HSM instead.
 */
export function readCertCache(dir: string, hsmSerial: number, productTag: string, stage: Stage): ProductChains | undefined {
  const path = certCachePath(dir, hsmSerial, productTag);
  if (!existsSync(path)) return undefined;
  const bad = (why: string) => new FormatError(`certificate cache ${path}: ${why}`, { advice: "it is read again from the HSM and rewritten" });
  let doc: CacheFile;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw bad(`not readable JSON (${(e as Error).message})`);
  }
  if (doc?.version !== CACHE_VERSION) throw bad(`version ${JSON.stringify(doc?.version)}, expected ${CACHE_VERSION}`);
  if (doc.hsmSerial !== hsmSerial || doc.productTag !== productTag || doc.stage !== stage) throw bad("written for another HSM, product tag or stage");
  if (!["hsm-info", "chain-depth", "legacy"].includes(doc.layout) || doc.kind !== (doc.layout === "legacy" ? "legacy" : "sidewalk")) throw bad("unknown layout");
  const dakKeyIds = {} as Record<Curve, number>;
  const caCerts = {} as Record<Curve, Cert[]>;
  for (const curve of CURVE_NAMES) {
    const id = doc.dakKeyIds?.[curve];
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw bad(`no ${curve} DAK key id`);
    dakKeyIds[curve] = id;
    const certs = doc.caCerts?.[curve];
    if (!Array.isArray(certs) || certs.length === 0) throw bad(`no ${curve} certificates`);
    caCerts[curve] = certs.map((c, i) => ({
      serial: fromHex(String(c?.serial), `${curve} certificate ${i} serial`),
      publicKey: fromHex(String(c?.publicKey), `${curve} certificate ${i} public key`),
      signature: fromHex(String(c?.signature), `${curve} certificate ${i} signature`),
    }));
  }
  const chains: ProductChains = { productTag, stage, layout: doc.layout, kind: doc.kind, dakKeyIds, caCerts };
  if (doc.hsmInfo) chains.hsmInfo = doc.hsmInfo;
  return chains;
}
