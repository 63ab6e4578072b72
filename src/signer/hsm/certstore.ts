// The Sidewalk certificate store on a YubiHSM 2: finds the product's DAK and its CA
// certificates in the layout Amazon's signing tool uses (see layout.ts), checks them once per
// session (DAK public key = DAK certificate's key; CA part of both chains verifies; `toolreq`
// not newer than this tool), and signs device certificates with the DAK. Implements DakSigner.
import { sha256 } from "@noble/hashes/sha2.js";
import { SwtoolError, VerificationError, FormatError } from "../../lib/errors.ts";
import { equal, toHex } from "../../lib/bytes.ts";
import { CHAIN_ROLES, isAmazonRoot, type Cert, type ChainKind } from "../../sidewalk/chain.ts";
import { toBeSigned } from "../../sidewalk/csr.ts";
import { CURVES, CURVE_NAMES, type Curve } from "../../sidewalk/curves.ts";
import type { DakSigner, SignerHealth, SigningPolicy } from "../../sidewalk/signer.ts";
import { readCertCache, writeCertCache } from "./cert-cache.ts";
import { stageOfProductTag, type Stage } from "../../sidewalk/smsn.ts";
import { openAuthenticatedClient, type HsmClient } from "../../hsm/client.ts";
import type { ObjectInfo } from "../../hsm/commands/get-object-info.ts";
import { isDeviceError } from "../../hsm/errors.ts";
import {
  authSlotsFor,
  CHAIN_DEPTH_LABEL,
  compareVersions,
  ELEMENT,
  HSM_INFO_LABEL,
  LONG_CHAIN_DEPTH,
  NAMESPACE,
  namespaceOf,
  objectIdFor,
  parseHsmInfo,
  productCertTag,
  SIGNING_TOOL_COMPAT_VERSION,
  type Element,
  type HsmInfo,
  type LayoutKind,
  type ProductChains,
} from "./layout.ts";
import { ALGORITHM, hex16, MAX_SESSIONS, OBJECT_TYPE } from "../../hsm/protocol.ts";
import { sleep } from "../../lib/sleep.ts";
import { Connector, type TlsFiles } from "../../hsm/transport.ts";

export interface CertStoreOptions {
  connector: string;
  pin: string;
  productTag: string;
  /** `--test_cert`: a product tag without a stage prefix is the test stage. */
  testCert?: boolean;
  pinSlot?: number;
  tls?: TlsFiles;
  allowInsecureConnector?: boolean;
  /** Sessions the pool may open for parallel signing (1..16, default 4). */
  sessions?: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Rehearsal: a production tag may sign with a test chain (the policy says so). */
  allowTestRoot?: boolean;
  /** `--cache_cert`: keep the CA certificates in this directory, keyed by the HSM's serial. */
  certCacheDir?: string;
  /** Told what the operator should know but that does not stop signing (an unusable cache). */
  onWarning?: (message: string) => void;
  /** At start, SESSIONS_FULL (all 16 held) means wait for a session, not fail: see openWhenFree. */
  sessionWait?: SessionWait;
}

export interface SessionWait {
  /** Give up after this long (one-shot, batch); undefined waits until a session frees (the line). */
  timeoutMs?: number;
  /** Told at once and then at most every `repeatMs` while waiting. */
  onWaiting: (message: string) => void;
  repeatMs?: number;
  /** Ends the wait (Ctrl-C): the open rejects with SessionWaitAborted. */
  signal?: AbortSignal;
}

export class SessionWaitAborted extends SwtoolError {
  override readonly exitCode = 130;
}

const WAIT_FIRST_MS = 250;
const WAIT_MAX_MS = 2_000;

/**
 * Opens the first session, waiting while the HSM has none free (SESSIONS_FULL): another line PC
 * holds them, or this PC's own sessions from a killed run, which live 30 s on the device. Only
 * the first session is waited for; the pool opens the others later as they free up. Nothing is
 * signed before this returns, so no DSN or DAK signature is spent while waiting.
 */
async function openWhenFree(url: string, wait: SessionWait | undefined, open: () => Promise<HsmClient>): Promise<HsmClient> {
  const started = Date.now();
  let told = 0;
  let delay = WAIT_FIRST_MS;
  const held = `HSM ${url} has no free session (all ${MAX_SESSIONS} held)`;
  for (;;) {
    try {
      return await open();
    } catch (e) {
      if (!wait || !isDeviceError(e, "SESSIONS_FULL")) throw e;
    }
    const waited = Date.now() - started;
    if (wait.timeoutMs !== undefined && waited >= wait.timeoutMs) {
      throw new SwtoolError(`${held} after waiting ${Math.round(wait.timeoutMs / 1000)} s; nothing was signed`, {
        advice: "another line PC or a previous run holds them (sessions time out after 30 s); stop it, or give a longer --hsm-wait",
      });
    }
    if (told === 0 || Date.now() - told >= (wait.repeatMs ?? 5_000)) {
      told = Date.now();
      wait.onWaiting(`${held}; waiting — another line PC or a previous run holds them; sessions time out after 30 s`);
    }
    const left = wait.timeoutMs === undefined ? delay : Math.min(delay, wait.timeoutMs - waited);
    await sleep(Math.max(1, left), wait.signal);
    if (wait.signal?.aborted) throw new SessionWaitAborted(`stopped while waiting for a free session of HSM ${url}; nothing was signed`);
    delay = Math.min(delay * 2, WAIT_MAX_MS);
  }
}

export type { ProductChains };

async function opaqueLabels(client: HsmClient, ids: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const id of ids) out.set(id, (await client.getObjectInfo(id, OBJECT_TYPE.OPAQUE)).label);
  return out;
}

/** Reads which layout the HSM uses and enforces `toolreq`. */
export async function readLayout(client: HsmClient): Promise<{ layout: LayoutKind; hsmInfo?: HsmInfo }> {
  const control = (await client.listObjects({ type: OBJECT_TYPE.OPAQUE })).filter((o) => o.id < NAMESPACE.FIRST_CA).map((o) => o.id);
  const labels = await opaqueLabels(client, control);
  const infoId = control.find((id) => labels.get(id) === HSM_INFO_LABEL);
  if (infoId !== undefined) {
    const hsmInfo = parseHsmInfo(await client.getOpaque(infoId));
    if (compareVersions(SIGNING_TOOL_COMPAT_VERSION, hsmInfo.toolreq) < 0) {
      throw new SwtoolError(`the HSM needs a signing tool of version ${hsmInfo.toolreq} or newer; swtool implements the HSM layout of Amazon's signing tool ${SIGNING_TOOL_COMPAT_VERSION}`, {
        advice: "update swtool before using this HSM (its layout may have changed in ways this version does not know)",
      });
    }
    return { layout: hsmInfo.longchain ? "hsm-info" : "legacy", hsmInfo };
  }
  const depthId = control.find((id) => labels.get(id) === CHAIN_DEPTH_LABEL);
  if (depthId === undefined) return { layout: "legacy" };
  const raw = await client.getOpaque(depthId);
  let depth = 0;
  raw.forEach((b, i) => (depth += b * 2 ** (8 * i)));
  if (depth !== LONG_CHAIN_DEPTH) {
    throw new SwtoolError(`the HSM's ${CHAIN_DEPTH_LABEL} object says the chain has depth ${depth}; Sidewalk uses ${LONG_CHAIN_DEPTH}`, { advice: "the HSM was programmed wrongly; ask whoever provisioned it" });
  }
  return { layout: "chain-depth" };
}

/** Every asymmetric key the session sees, with its info (labels name the products). */
export async function listKeys(client: HsmClient): Promise<ObjectInfo[]> {
  const keys = await client.listObjects({ type: OBJECT_TYPE.ASYMMETRIC_KEY });
  const out: ObjectInfo[] = [];
  for (const k of keys) out.push(await client.getObjectInfo(k.id, k.type));
  return out;
}

/** Product tags found on the HSM: DAK key labels look like `<TAG>_ED25.priv`, `<TAG>_P256R1.priv`. */
export function productTagsOf(keys: ObjectInfo[]): string[] {
  const tags = new Set<string>();
  for (const k of keys) {
    const m = /^(.*)_(?:ED25|P256R1)\.priv$/.exec(k.label);
    if (m) tags.add(m[1]!);
  }
  return [...tags].sort();
}

async function readCert(client: HsmClient, namespace: number, curve: Curve, stage: Stage, role: string): Promise<Cert> {
  const c = CURVES[curve];
  const part = async (element: Element, what: string, length?: number): Promise<Uint8Array> => {
    const id = objectIdFor(namespace, curve, stage, element);
    let data: Uint8Array;
    try {
      data = await client.getOpaque(id);
    } catch (e) {
      if (isDeviceError(e, "OBJECT_NOT_FOUND")) {
        throw new SwtoolError(`the HSM is missing the ${what} of the ${c.display} ${role} certificate (opaque object ${hex16(id)})`, {
          advice: "the HSM's Sidewalk chain is incomplete; it must be provisioned again",
          cause: e,
        });
      }
      throw e;
    }
    if (length !== undefined && data.length !== length) {
      throw new FormatError(`the ${what} of the ${c.display} ${role} certificate (object ${hex16(id)}) is ${data.length} bytes, expected ${length}`);
    }
    return data;
  };
  const publicKey = await part(ELEMENT.PUBLIC, "public key", c.publicKeyLength);
  const signature = await part(ELEMENT.SIGNATURE, "signature", c.signatureLength);
  const serial = await part(ELEMENT.SERIAL, "serial");
  if (serial.length < 4) throw new FormatError(`the serial of the ${c.display} ${role} certificate is ${serial.length} bytes; at least 4 are needed`);
  return { serial, publicKey, signature };
}

/** Finds `productTag`'s DAK and reads its CA certificates for both curves. */
export async function readProductChains(client: HsmClient, productTag: string, stage: Stage, layoutInfo?: { layout: LayoutKind; hsmInfo?: HsmInfo }, keys?: ObjectInfo[]): Promise<ProductChains> {
  const { layout, hsmInfo } = layoutInfo ?? (await readLayout(client));
  const allKeys = keys ?? (await listKeys(client));
  const signer = allKeys.find((k) => k.label.startsWith(productTag));
  if (!signer) {
    const found = productTagsOf(allKeys);
    throw new SwtoolError(`the HSM has no DAK for product tag ${productTag}`, {
      advice: found.length ? `product tags on this HSM: ${found.join(", ")}` : "this key slot sees no signing keys; check the HSM and the PIN slot",
    });
  }
  const signerNs = namespaceOf(signer.id);
  const kind: ChainKind = layout === "legacy" ? "legacy" : "sidewalk";
  let namespaces: number[];
  if (kind === "legacy") {
    namespaces = [signerNs, NAMESPACE.MAN_LEGACY, NAMESPACE.AMZN];
  } else {
    const prodTag = productCertTag(productTag);
    const offset = signer.id - signerNs - ELEMENT.PRIVATE + ELEMENT.PUBLIC;
    const opaques = new Set((await client.listObjects({ type: OBJECT_TYPE.OPAQUE })).map((o) => o.id));
    let prodNs: number | undefined;
    for (let ns = NAMESPACE.FIRST_CA; ns < NAMESPACE.END && prodNs === undefined; ns += 0x10) {
      if (opaques.has(ns + offset) && (await client.getObjectInfo(ns + offset, OBJECT_TYPE.OPAQUE)).label.startsWith(prodTag)) prodNs = ns;
    }
    if (prodNs === undefined) {
      throw new SwtoolError(`the HSM has no PRODUCT certificate labelled ${prodTag}… for the DAK ${productTag}`, { advice: "the HSM's Sidewalk chain is incomplete; it must be provisioned again" });
    }
    namespaces = [signerNs, prodNs, NAMESPACE.MAN, NAMESPACE.SIDEWALK, NAMESPACE.AMZN];
  }
  const roles = CHAIN_ROLES[kind].slice(1);
  const dakKeyIds = {} as Record<Curve, number>;
  const caCerts = {} as Record<Curve, Cert[]>;
  for (const curve of CURVE_NAMES) {
    const keyId = objectIdFor(signerNs, curve, stage, ELEMENT.PRIVATE);
    const key = allKeys.find((k) => k.id === keyId);
    const algorithm = curve === "ed25519" ? ALGORITHM.EC_ED25519 : ALGORITHM.EC_P256;
    if (!key || key.algorithm !== algorithm) {
      throw new SwtoolError(`the HSM has no ${CURVES[curve].display} ${roles[0]} key for ${productTag} at ${hex16(keyId)}`, { advice: "the HSM's Sidewalk chain is incomplete; it must be provisioned again" });
    }
    dakKeyIds[curve] = keyId;
    caCerts[curve] = [];
    for (let i = 0; i < namespaces.length; i++) caCerts[curve].push(await readCert(client, namespaces[i]!, curve, stage, roles[i]!));
  }
  const out: ProductChains = { productTag, stage, layout, kind, dakKeyIds, caCerts };
  if (hsmInfo) out.hsmInfo = hsmInfo;
  return out;
}

/** Verifies the CA part of a chain: each certificate against the next, the root against itself. */
export function verifyCaCerts(curve: Curve, kind: ChainKind, certs: Cert[]): void {
  const roles = CHAIN_ROLES[kind].slice(1);
  certs.forEach((cert, i) => {
    const issuer = certs[i + 1] ?? cert;
    if (!CURVES[curve].verify(cert.signature, toBeSigned(cert.publicKey, cert.serial), issuer.publicKey)) {
      throw new VerificationError(`${CURVES[curve].display} chain on the HSM: the ${roles[i]} certificate (serial ${toHex(cert.serial)}) does not verify against ${i === certs.length - 1 ? "itself" : roles[i + 1]}`, {
        advice: "the HSM's certificates are damaged or mixed up; it must be provisioned again",
      });
    }
  });
}

/** Checks a product's chains: DAK key on the HSM = DAK certificate's key, CA parts verify. */
export async function checkProductChains(client: HsmClient, chains: ProductChains): Promise<Record<Curve, Uint8Array>> {
  const dakPublicKeys = {} as Record<Curve, Uint8Array>;
  for (const curve of CURVE_NAMES) {
    const key = (await client.getPublicKey(chains.dakKeyIds[curve])).key;
    if (!equal(key, chains.caCerts[curve][0]!.publicKey)) {
      throw new VerificationError(`the ${CURVES[curve].display} DAK key on the HSM (${hex16(chains.dakKeyIds[curve])}) is not the key of its DAK certificate`, {
        advice: "the HSM's DAK and certificates do not belong together; it must be provisioned again",
      });
    }
    verifyCaCerts(curve, chains.kind, chains.caCerts[curve]);
    dakPublicKeys[curve] = key;
  }
  return dakPublicKeys;
}

/** The policy a product's chains allow: production tags need Amazon's root unless rehearsing. */
export function signingPolicyFor(productTag: string, stage: Stage, amazonRoot: boolean, allowTestRoot: boolean): SigningPolicy {
  const production = stage === "production";
  if (production && !amazonRoot && !allowTestRoot) {
    throw new VerificationError(`the HSM's chain for ${productTag} does not end at Amazon's production root, but the tag names a production product`, {
      advice: "use the real production HSM; to rehearse with a test chain add --allow-test-root (devices signed so will not work in the field)",
    });
  }
  return { requireAmazonRoot: production && amazonRoot, rehearsal: production && !amazonRoot };
}

export class HsmCertStore implements DakSigner {
  readonly productTag: string;
  readonly stage: Stage;
  readonly kind: ChainKind;
  readonly layout: LayoutKind;
  readonly hsmInfo: HsmInfo | undefined;

  constructor(
    private readonly client: HsmClient,
    readonly hsmSerial: number,
    private readonly chains: ProductChains,
    private readonly dakKeys: Record<Curve, Uint8Array>,
    readonly policy: SigningPolicy,
  ) {
    this.productTag = chains.productTag;
    this.stage = chains.stage;
    this.kind = chains.kind;
    this.layout = chains.layout;
    this.hsmInfo = chains.hsmInfo;
  }

  get requireAmazonRoot(): boolean {
    return this.policy.requireAmazonRoot;
  }

  get authKeyId(): number {
    return this.client.authKeyId;
  }

  /** Whether the HSM can sign now; the line pauses on it (the pool does the waiting). */
  get health(): SignerHealth {
    return this.client.health;
  }

  caCerts(curve: Curve): readonly Cert[] {
    return this.chains.caCerts[curve];
  }

  dakPublicKey(curve: Curve): Uint8Array {
    return this.dakKeys[curve];
  }

  /** The chain ends at Amazon's production root (false for test and rehearsal HSMs). */
  amazonRoot(curve: Curve): boolean {
    const certs = this.chains.caCerts[curve];
    return isAmazonRoot(curve, certs[certs.length - 1]!);
  }

  /** A raw 64-byte signature by the DAK (Ed25519 over the message; P-256 ECDSA over its SHA-256). */
  async sign(curve: Curve, message: Uint8Array): Promise<Uint8Array> {
    const keyId = this.chains.dakKeyIds[curve];
    return curve === "ed25519" ? this.client.signEddsa(keyId, message) : this.client.signEcdsa(keyId, sha256(message));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** The product's chains from the certificate cache when it holds good ones, else from the HSM (and cached). */
async function cachedProductChains(client: HsmClient, serial: number, productTag: string, stage: Stage, options: CertStoreOptions): Promise<{ chains: ProductChains; dakKeys: Record<Curve, Uint8Array> }> {
  const dir = options.certCacheDir!;
  try {
    const cached = readCertCache(dir, serial, productTag, stage);
    if (cached) return { chains: cached, dakKeys: await checkProductChains(client, cached) };
  } catch (e) {
    if (!(e instanceof SwtoolError)) throw e;
    options.onWarning?.(`${e.message}; reading the certificates from the HSM again`);
  }
  const chains = await readProductChains(client, productTag, stage);
  const dakKeys = await checkProductChains(client, chains);
  writeCertCache(dir, serial, chains);
  return { chains, dakKeys };
}

/** Connects, authenticates, finds and checks the product's chain and its policy; the pool then serves sign(). */
export async function openCertStore(options: CertStoreOptions): Promise<HsmCertStore> {
  const stage = stageOfProductTag(options.productTag, { testCert: options.testCert ?? false });
  const connector = new Connector({ ...options, url: options.connector });
  const client = await openWhenFree(options.connector, options.sessionWait, () => openAuthenticatedClient(connector, options.pin, authSlotsFor(stage, options.pinSlot), options.sessions ?? 4));
  try {
    const serial = (await client.deviceInfo()).serial;
    let chains: ProductChains;
    let dakKeys: Record<Curve, Uint8Array>;
    if (options.certCacheDir !== undefined) ({ chains, dakKeys } = await cachedProductChains(client, serial, options.productTag, stage, options));
    else {
      chains = await readProductChains(client, options.productTag, stage);
      dakKeys = await checkProductChains(client, chains);
    }
    const amazon = CURVE_NAMES.every((c) => isAmazonRoot(c, chains.caCerts[c][chains.caCerts[c].length - 1]!));
    const policy = signingPolicyFor(options.productTag, stage, amazon, options.allowTestRoot ?? false);
    return new HsmCertStore(client, serial, chains, dakKeys, policy);
  } catch (e) {
    await client.close();
    throw e;
  }
}
