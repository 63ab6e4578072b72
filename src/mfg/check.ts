// Checks a decoded manufacturing page the way the device will depend on it: every value
// present with its size, both chains verifying from the device certificate up to the stored
// Amazon root key (the page keeps only the root's key, not its certificate), whether that
// root is Amazon's production root, and each stored private key matching its public key.
import { equal, toHex } from "../lib/bytes.ts";
import { toBeSigned } from "../sidewalk/csr.ts";
import { CURVES, type Curve } from "../sidewalk/curves.ts";
import { AMAZON_PRODUCTION_ROOT } from "../sidewalk/roots.ts";
import { APID_LENGTH } from "../sidewalk/smsn.ts";
import { CA_ROLES, FIELD_BY_NAME } from "./fields.ts";
import type { DecodedPage } from "./page.ts";

export interface PageCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface CertCheck {
  role: string;
  serial: string;
  publicKey: string;
  signatureOk: boolean;
}

export interface CurveReport {
  certs: CertCheck[];
  chainOk: boolean;
  amazonRoot: boolean;
  privateKeyMatches: boolean;
}

export interface PageReport {
  ok: boolean;
  checks: PageCheck[];
  curves: Partial<Record<Curve, CurveReport>>;
}

const SUFFIX: Record<Curve, string> = { ed25519: "ED25519", p256r1: "P256R1" };

export function requiredFields(): string[] {
  const names = ["SMSN", "APID", "APP_PUB_ED25519"];
  for (const s of Object.values(SUFFIX)) {
    names.push(`DEVICE_PRIV_${s}`, `DEVICE_PUB_${s}`, `DEVICE_PUB_${s}_SIGNATURE`);
    for (const role of CA_ROLES) names.push(`${role}_PUB_${s}`, `${role}_PUB_${s}_SIGNATURE`, `${role}_${s}_SERIAL`);
    names.push(`AMZN_PUB_${s}`);
  }
  return names;
}

export function checkPage(page: DecodedPage): PageReport {
  const checks: PageCheck[] = page.problems.map((p) => ({ check: "structure", ok: false, detail: p }));
  const values = new Map(page.fields.map((f) => [f.name, f.value]));
  const missing = requiredFields().filter((n) => !values.has(n));
  checks.push({ check: "all values present", ok: missing.length === 0, detail: missing.length ? `missing ${missing.join(", ")}` : `${requiredFields().length} values` });
  const badSizes = page.fields.filter((f) => {
    const size = FIELD_BY_NAME.get(f.name)?.size;
    return f.name.endsWith("_SERIAL") ? f.value.length < 4 : size !== undefined && f.value.length !== size;
  });
  checks.push({
    check: "value sizes",
    ok: badSizes.length === 0,
    detail: badSizes.length ? badSizes.map((f) => `${f.name} is ${f.value.length} bytes, expected ${FIELD_BY_NAME.get(f.name)?.size ?? "at least 4"}`).join("; ") : "as sid_pal_mfg_store_ifc.h defines them",
  });
  const apid = values.get("APID");
  if (apid) {
    const ok = apid.length === APID_LENGTH && apid.every((b) => b >= 0x21 && b <= 0x7e);
    checks.push({ check: "APID", ok, detail: ok ? new TextDecoder().decode(apid) : `${toHex(apid)} is not 4 printable ASCII characters` });
  }
  const app = values.get("APP_PUB_ED25519");
  if (app) checks.push({ check: "application server key", ok: CURVES.ed25519.isValidPublicKey(app), detail: CURVES.ed25519.isValidPublicKey(app) ? "an Ed25519 public key" : "not an Ed25519 public key" });

  const curves: PageReport["curves"] = {};
  const smsn = values.get("SMSN");
  for (const curve of ["ed25519", "p256r1"] as Curve[]) {
    const s = SUFFIX[curve];
    const c = CURVES[curve];
    const names = [
      { role: "DEVICE", serial: "SMSN", pub: `DEVICE_PUB_${s}`, sig: `DEVICE_PUB_${s}_SIGNATURE` },
      ...CA_ROLES.map((role) => ({ role, serial: `${role}_${s}_SERIAL`, pub: `${role}_PUB_${s}`, sig: `${role}_PUB_${s}_SIGNATURE` })),
    ];
    const rootKey = values.get(`AMZN_PUB_${s}`);
    if (!smsn || !rootKey || names.some((n) => !values.has(n.pub) || !values.has(n.sig) || !values.has(n.serial))) continue;
    const certs = names.map((n, i): CertCheck => {
      const pub = values.get(n.pub)!;
      const issuer = i + 1 < names.length ? values.get(names[i + 1]!.pub)! : rootKey;
      const serial = values.get(n.serial)!;
      return { role: n.role, serial: toHex(serial), publicKey: toHex(pub), signatureOk: c.verify(values.get(n.sig)!, toBeSigned(pub, serial), issuer) };
    });
    const chainOk = certs.every((x) => x.signatureOk);
    const amazonRoot = equal(rootKey, AMAZON_PRODUCTION_ROOT[curve].publicKey);
    const priv = values.get(`DEVICE_PRIV_${s}`);
    let privateKeyMatches = false;
    try {
      privateKeyMatches = !!priv && equal(c.publicKeyFromPrivate(priv), values.get(`DEVICE_PUB_${s}`)!);
    } catch {
      privateKeyMatches = false; // not a valid scalar
    }
    curves[curve] = { certs, chainOk, amazonRoot, privateKeyMatches };
    const failed = certs.find((x) => !x.signatureOk);
    checks.push({
      check: `${c.display} chain`,
      ok: chainOk,
      detail: chainOk ? `device, DAK, product, manufacturer and Sidewalk certificates verify up to the ${amazonRoot ? "Amazon production" : "stored (NOT Amazon production)"} root key` : `signature of ${failed!.role} (serial ${failed!.serial}) does not verify`,
    });
    checks.push({
      check: `${c.display} private key`,
      ok: privateKeyMatches,
      detail: privateKeyMatches ? "matches DEVICE_PUB" : `DEVICE_PRIV_${s} is not the private key of DEVICE_PUB_${s}`,
    });
  }
  return { ok: checks.every((x) => x.ok), checks, curves };
}
