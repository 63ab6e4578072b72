// The Sidewalk layout of objects on the HSM, as Amazon's signing tool (sid-signing-tool
// certstore/hsm.py) reads it and its generate_dummy_hsm.py writes it:
// - control namespace 0x00..0x0F: opaque 0x0E "HSM_INFO" (JSON ver/toolreq/rel/longchain) or
//   opaque 0x0F "SW_CTL_CHAIN_DEPTH" (= 5); neither means the legacy 4-certificate chain;
// - CA namespaces of 0x10 ids: AMZN 0x10, SIDEWALK 0x20, MAN 0x30 (legacy: MAN 0x20), then
//   PRODUCT and DAK (legacy: MODEL) where their labels say;
// - in a namespace: id = ns + (curve << 3) + (stage == production ? 0 : 4) + element, elements
//   0 private key (asymmetric, DAK only), 1 public key, 2 signature, 3 serial (opaque).
import { FormatError, SwtoolError } from "../../lib/errors.ts";
import type { Cert, ChainKind } from "../../sidewalk/chain.ts";
import type { Curve } from "../../sidewalk/curves.ts";
import type { Stage } from "../../sidewalk/smsn.ts";

export const HSM_INFO_ID = 0x0e;
export const HSM_INFO_LABEL = "HSM_INFO";
export const CHAIN_DEPTH_ID = 0x0f;
export const CHAIN_DEPTH_LABEL = "SW_CTL_CHAIN_DEPTH";
/** Sidewalk's long chain: five CA certificates above the device. */
export const LONG_CHAIN_DEPTH = 5;

export const NAMESPACE = { AMZN: 0x10, SIDEWALK: 0x20, MAN: 0x30, MAN_LEGACY: 0x20, FIRST_CA: 0x10, END: 0xf0 } as const;
export const ELEMENT = { PRIVATE: 0, PUBLIC: 1, SIGNATURE: 2, SERIAL: 3 } as const;
export type Element = (typeof ELEMENT)[keyof typeof ELEMENT];

/** Authentication key slots the signing tool uses: 5 production, 6 pre-production. */
export const AUTH_SLOT = { production: 5, preproduction: 6 } as const;

/** The version of Amazon's signing tool whose HSM layout this implements (`toolreq` is checked against it). */
export const SIGNING_TOOL_COMPAT_VERSION = "1.2.0";

export type LayoutKind = "hsm-info" | "chain-depth" | "legacy";

export function objectIdFor(namespace: number, curve: Curve, stage: Stage, element: Element): number {
  return namespace + (curve === "p256r1" ? 1 << 3 : 0) + (stage === "production" ? 0 : 4) + element;
}

export const namespaceOf = (id: number) => id & ~0x0f;

/** Slots to try in order: the given one, else the stage's slot first, then the other (no stage: 5, 6). */
export function authSlotsFor(stage: Stage | undefined, pinSlot?: number): number[] {
  if (pinSlot !== undefined) return [pinSlot];
  return stage === "preproduction" ? [AUTH_SLOT.preproduction, AUTH_SLOT.production] : [AUTH_SLOT.production, AUTH_SLOT.preproduction];
}

/** The PRODUCT certificate's tag: the tag's `DAK` word replaced by `PROD` (RNET_DAK_X -> RNET_PROD_X, DAK_X -> PROD_X). */
export function productCertTag(dakTag: string): string {
  const prod = dakTag.replace(/(^|_)DAK(?=_)/, "$1PROD");
  if (prod === dakTag) throw new SwtoolError(`the product tag ${JSON.stringify(dakTag)} has no "DAK_" word in it`, { advice: "give the DAK's tag, e.g. RNET_DAK_MYPRODUCT" });
  return prod;
}

/** One product's chain material as read from the HSM. */
export interface ProductChains {
  productTag: string;
  stage: Stage;
  layout: LayoutKind;
  kind: ChainKind;
  hsmInfo?: HsmInfo;
  /** Asymmetric key ids of the DAK (legacy: MODEL) per curve. */
  dakKeyIds: Record<Curve, number>;
  /** CA certificates per curve, DAK first, root last. */
  caCerts: Record<Curve, Cert[]>;
}

export interface HsmInfo {
  ver?: number;
  toolreq: string;
  rel?: number;
  longchain: boolean;
}

export function parseHsmInfo(data: Uint8Array): HsmInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (e) {
    throw new FormatError(`the HSM_INFO object (0x000e) is not valid JSON: ${(e as Error).message}`, { advice: "the HSM was programmed wrongly; ask whoever provisioned it" });
  }
  const info = raw as Partial<HsmInfo>;
  if (typeof raw !== "object" || raw === null || typeof info.toolreq !== "string" || typeof info.longchain !== "boolean") {
    throw new FormatError(`the HSM_INFO object (0x000e) lacks "toolreq" (string) or "longchain" (boolean)`, { advice: "the HSM was programmed wrongly; ask whoever provisioned it" });
  }
  return info as HsmInfo;
}

/** Compares dotted versions numerically ("1.10" > "1.9"); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
