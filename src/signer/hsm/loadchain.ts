// Programs a blank HSM (the simulator, or a factory-reset YubiHSM 2) with a freshly generated
// test PKI in the Sidewalk layout, as Amazon's generate_dummy_hsm.py lays out a test HSM: CA
// certificates as opaque objects, the DAK as asymmetric keys, HSM_INFO and SW_CTL_CHAIN_DEPTH,
// and an authentication key derived from the line's PIN in slot 5 (6 for pre-production).
// Logged in with the factory key (id 1, password "password"). The root is never Amazon's.
import { SwtoolError, UsageError } from "../../lib/errors.ts";
import type { Cert } from "../../sidewalk/chain.ts";
import { CURVE_NAMES, type Curve } from "../../sidewalk/curves.ts";
import { makeTestPki, type TestPki } from "../../sidewalk/pki.ts";
import { stageOfProductTag, type Stage } from "../../sidewalk/smsn.ts";
import { openCertStore } from "./certstore.ts";
import { HsmClient } from "../../hsm/client.ts";
import { HsmPinRejectedError } from "../../hsm/errors.ts";
import {
  AUTH_SLOT,
  CHAIN_DEPTH_ID,
  CHAIN_DEPTH_LABEL,
  compareVersions,
  ELEMENT,
  HSM_INFO_ID,
  HSM_INFO_LABEL,
  LONG_CHAIN_DEPTH,
  NAMESPACE,
  objectIdFor,
  SIGNING_TOOL_COMPAT_VERSION,
  type Element,
} from "./layout.ts";
import { ALGORITHM, capability, hex16, LABEL_LENGTH, OBJECT_TYPE } from "../../hsm/protocol.ts";
import { deriveAuthKey } from "../../hsm/secure-channel.ts";
import type { TlsFiles } from "../../hsm/transport.ts";

export const FACTORY_AUTH_KEY_ID = 1;
export const FACTORY_PASSWORD = "password";
/** Domains 1 and 3 (bit mask 5), as Amazon's test HSM generator assigns them. */
const SIDEWALK_DOMAINS = 5;

export type TestLayout = "long" | "chain-depth" | "legacy";

export interface LoadTestChainOptions {
  connector: string;
  /** e.g. RNET_DAK_DEMO, PREPROD_DAK_DEMO, TEST_DAK_DEMO. */
  productTag: string;
  /** A tag without a stage prefix (DAK_X) is loaded for the test stage, as `sign --test_cert` reads it. */
  testCert?: boolean;
  /** The PIN the line will use; the slot's authentication key is derived from it. */
  pin: string;
  pinSlot?: number;
  tls?: TlsFiles;
  allowInsecureConnector?: boolean;
  /** "long" (HSM_INFO + SW_CTL_CHAIN_DEPTH, default), "chain-depth" (SW_CTL_CHAIN_DEPTH only) or "legacy" (4-certificate chain). */
  layout?: TestLayout;
  /** HSM_INFO's toolreq (default "1.1", as Amazon's generator writes). */
  toolreq?: string;
  factoryPassword?: string;
  /** Load this PKI instead of a fresh one (so several HSMs hold one product's chain, with the same or different DAKs). */
  pki?: Partial<Record<Curve, TestPki>>;
}

export interface LoadedTestChain {
  productTag: string;
  stage: Stage;
  layout: TestLayout;
  authKeyId: number;
  hsmSerial: number;
  objectsWritten: number;
  /** The test roots (not Amazon's), per curve. */
  roots: Record<Curve, Cert>;
}

const CURVE_LABEL: Record<Curve, string> = { ed25519: "ED25", p256r1: "P256R1" };
const ELEMENT_LABEL = ["priv", "pub", "signature", "serial"] as const;

function parseTag(tag: string, testCert: boolean): { prefix: string; product: string; stage: Stage } {
  const stage = stageOfProductTag(tag, { testCert });
  const m = /^(?:(RNET|PREPROD|TEST)_)?DAK_([A-Za-z0-9][A-Za-z0-9_-]*)$/.exec(tag);
  if (!m) throw new UsageError(`product tag ${JSON.stringify(tag)} does not look like <RNET|PREPROD|TEST>_DAK_<PRODUCT>`, { advice: "for example --product RNET_DAK_DEMO" });
  // A tag without a stage prefix (test stage by --test_cert) labels its objects without one.
  const prefix = m[1] === undefined ? "" : `${m[1]}_`;
  const longest = `${prefix}PROD_${m[2]}_P256R1.signature`;
  if (longest.length > LABEL_LENGTH) {
    throw new UsageError(`product name ${JSON.stringify(m[2])} is too long: the label ${longest} would exceed the HSM's ${LABEL_LENGTH} characters`, { advice: "use a shorter product name" });
  }
  return { prefix, product: m[2]!, stage };
}

export async function loadTestChain(options: LoadTestChainOptions): Promise<LoadedTestChain> {
  const { prefix, product, stage } = parseTag(options.productTag, options.testCert ?? false);
  const layout = options.layout ?? "long";
  const kind = layout === "legacy" ? "legacy" : "sidewalk";
  const authKeyId = options.pinSlot ?? (stage === "preproduction" ? AUTH_SLOT.preproduction : AUTH_SLOT.production);
  if (!options.pin) throw new UsageError("the PIN is empty", { advice: "give the PIN the line will use" });

  let admin: HsmClient;
  try {
    admin = await HsmClient.connect({ ...options, url: options.connector, authKeyId: FACTORY_AUTH_KEY_ID, password: options.factoryPassword ?? FACTORY_PASSWORD });
  } catch (e) {
    if (e instanceof HsmPinRejectedError) {
      throw new SwtoolError("the HSM refused the factory authentication key (slot 1, default password): it is not a factory-fresh HSM", {
        advice: "load-test-chain programs a blank HSM: factory-reset it, or start the simulator with a new --state file",
      });
    }
    throw e;
  }
  try {
    const present = (await admin.listObjects()).filter((o) => !(o.id === FACTORY_AUTH_KEY_ID && o.type === OBJECT_TYPE.AUTHENTICATION_KEY));
    if (present.length > 0) {
      throw new SwtoolError(`the HSM is not blank: it holds ${present.length} object(s) besides the factory authentication key (first: ${hex16(present[0]!.id)})`, {
        advice: "load-test-chain programs a blank HSM: factory-reset it, or start the simulator with a new --state file",
      });
    }
    // Namespaces in the order Amazon's generator fills them; wire order is DAK first.
    const cas = kind === "legacy" ? (["AMZN", "MAN", "DAK"] as const) : (["AMZN", "SIDEWALK", "MAN", "PROD", "DAK"] as const);
    const namespaceOf = (i: number) => NAMESPACE.FIRST_CA + 0x10 * i;
    let written = 0;
    const roots = {} as Record<Curve, Cert>;
    for (const curve of CURVE_NAMES) {
      const given = options.pki?.[curve];
      if (given && given.kind !== kind) throw new UsageError(`the given ${curve} PKI is a ${given.kind} chain, the layout ${layout} needs ${kind}`);
      const pki = given ?? makeTestPki(curve, { kind });
      roots[curve] = pki.caCerts[pki.caCerts.length - 1]!;
      for (let i = 0; i < cas.length; i++) {
        const ca = cas[i]!;
        const wire = cas.length - 1 - i; // AMZN is last on the wire, DAK first.
        const cert = pki.caCerts[wire]!;
        const ns = namespaceOf(i);
        const label = (element: Element) => `${prefix}${ca}${ca === "PROD" || ca === "DAK" ? `_${product}` : ""}_${CURVE_LABEL[curve]}.${ELEMENT_LABEL[element]}`;
        const opaque = (element: Element, data: Uint8Array) =>
          admin.putOpaque({ id: objectIdFor(ns, curve, stage, element), label: label(element), domains: SIDEWALK_DOMAINS, capabilities: 0n, algorithm: ALGORITHM.OPAQUE_DATA }, data);
        if (ca === "DAK") {
          await admin.putAsymmetricKey(
            {
              id: objectIdFor(ns, curve, stage, ELEMENT.PRIVATE),
              label: label(ELEMENT.PRIVATE),
              domains: SIDEWALK_DOMAINS,
              capabilities: capability(curve === "ed25519" ? "SIGN_EDDSA" : "SIGN_ECDSA"),
              algorithm: curve === "ed25519" ? ALGORITHM.EC_ED25519 : ALGORITHM.EC_P256,
            },
            pki.privateKeys[0]!,
          );
          written++;
        }
        await opaque(ELEMENT.PUBLIC, cert.publicKey);
        await opaque(ELEMENT.SIGNATURE, cert.signature);
        await opaque(ELEMENT.SERIAL, cert.serial);
        written += 3;
      }
      if (!given) pki.privateKeys.forEach((k) => k.fill(0));
    }
    if (layout === "long") {
      const info = { ver: 3, toolreq: options.toolreq ?? "1.1", rel: Math.floor(Date.now() / 1000), longchain: true };
      await admin.putOpaque({ id: HSM_INFO_ID, label: HSM_INFO_LABEL, domains: SIDEWALK_DOMAINS, capabilities: 0n, algorithm: ALGORITHM.OPAQUE_DATA }, new TextEncoder().encode(JSON.stringify(info)));
      written++;
    }
    if (layout !== "legacy") {
      await admin.putOpaque({ id: CHAIN_DEPTH_ID, label: CHAIN_DEPTH_LABEL, domains: SIDEWALK_DOMAINS, capabilities: 0n, algorithm: ALGORITHM.OPAQUE_DATA }, new Uint8Array([LONG_CHAIN_DEPTH]));
      written++;
    }
    await admin.putAuthenticationKey(
      { id: authKeyId, label: "SIDEWALK", domains: SIDEWALK_DOMAINS, capabilities: capability("GET_OPAQUE", "SIGN_ECDSA", "SIGN_EDDSA"), algorithm: ALGORITHM.AES128_YUBICO_AUTHENTICATION },
      0n,
      deriveAuthKey(options.pin),
    );
    written++;
    const hsmSerial = (await admin.deviceInfo()).serial;
    await admin.close();
    // Read it back the way the line will, so a bad load shows now and not on the line.
    const toolreq = options.toolreq ?? "1.1";
    if (layout !== "long" || compareVersions(SIGNING_TOOL_COMPAT_VERSION, toolreq) >= 0) {
      const store = await openCertStore({ ...options, allowTestRoot: true, sessions: 1 });
      await store.close();
    }
    return { productTag: options.productTag, stage, layout, authKeyId, hsmSerial, objectsWritten: written, roots };
  } finally {
    await admin.close();
  }
}
