// The HSM signer as the signing commands open it: product tag, connector, PIN and slot flags,
// the one switch that lets a rehearsal line sign under a production tag with a test root, and
// the certificate cache (`--cache_cert`).
import type { ArgsDef } from "citty";
import { defaultCertCacheDir } from "../signer/hsm/cert-cache.ts";
import { openCertStore, SessionWaitAborted, type CertStoreOptions, type SessionWait } from "../signer/hsm/certstore.ts";
import { HsmFleet, type FleetEvent, type HsmEndpoint } from "../signer/hsm/fleet.ts";
import type { DakSigner, SigningPolicy } from "../sidewalk/signer.ts";
import { UsageError } from "../lib/errors.ts";
import { readHsmConfig } from "./hsm-config.ts";
import { connectorArgs, pinArgs, wholeNumberArg } from "./args.ts";
import { connectorOf, pinSlotOf, resolvePin, type ConnectorFlags, type PinFlags } from "./pin.ts";
import { log } from "./output.ts";

export const signerArgs = {
  product: { type: "string", alias: "p", description: "Product tag of the DAK in the HSM (RNET_..., PREPROD_..., TEST_...)", required: true },
  ...connectorArgs,
  ...pinArgs,
  sessions: { type: "string", description: "HSM sessions to keep open (1-16)", default: "4" },
  "allow-test-root": { type: "boolean", description: "Rehearsal: sign under a production tag although the HSM holds a test chain" },
  test_cert: { type: "boolean", description: "A product tag without RNET_/PREPROD_/TEST_ is the test stage" },
  cache_cert: { type: "boolean", description: "Cache the HSM's CA certificates on this PC, keyed by HSM serial ($SWTOOL_CACHE_DIR)" },
  "hsm-config": { type: "string", description: "JSON file naming several HSMs (connector URL, TLS files, PIN file or variable each)" },
  "hsm-wait": { type: "string", description: "Seconds to wait at start for a free HSM session when all 16 are held (one-shot/batch: 120; line: until one frees)" },
} as const satisfies ArgsDef;

export interface SignerFlags extends ConnectorFlags, PinFlags {
  product: string;
  sessions?: string;
  "allow-test-root"?: boolean;
  test_cert?: boolean;
  cache_cert?: boolean;
  "hsm-config"?: string;
  "hsm-wait"?: string;
  /** The line: with no --hsm-wait, wait for a free HSM session for as long as it takes. */
  waitForSession?: "unbounded";
  /** Every --connector given (several HSMs when more than one). */
  connectors?: string[];
}

/** What the signing commands sign with: one HSM's certificate store, or several HSMs. */
export type OpenedSigner = DakSigner & { readonly policy: SigningPolicy; close(): Promise<void> };

function describeFleetEvent(e: FleetEvent): string {
  if (e.type === "hsm-down") return `HSM ${e.hsm}${e.serial !== undefined ? ` (serial ${e.serial})` : ""} stopped answering (${e.error}); its signatures go to the other HSMs (${e.inService} in service); retrying it in the background`;
  if (e.type === "hsm-up") return `HSM ${e.hsm} (serial ${e.serial}) answers again and verifies: back in service (${e.inService} in service)`;
  return "no HSM answers: signing waits (the line pauses) until one is back";
}

const DEFAULT_HSM_WAIT_S = 120;

/**
 * Opens the signer, waiting while an HSM has no free session (SESSIONS_FULL at start) with one
 * line every few seconds; Ctrl-C ends the wait with exit 130, nothing signed.
 */
export async function openSigner(flags: SignerFlags): Promise<OpenedSigner> {
  const seconds = wholeNumberArg(flags["hsm-wait"], "hsm-wait", { min: 0, max: 86_400 });
  const timeoutMs = seconds !== undefined ? seconds * 1000 : flags.waitForSession === "unbounded" ? undefined : DEFAULT_HSM_WAIT_S * 1000;
  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.on("SIGINT", onSigint);
  const sessionWait: SessionWait = { onWaiting: (message) => log.warn(message), signal: stop.signal, ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  try {
    const signer = await openSignerWaiting(flags, sessionWait);
    if (stop.signal.aborted) {
      // Ctrl-C came while the HSM was being checked, not while waiting: stop all the same.
      await signer.close();
      throw new SessionWaitAborted("stopped before signing anything");
    }
    return signer;
  } finally {
    process.off("SIGINT", onSigint);
  }
}

async function openSignerWaiting(flags: SignerFlags, sessionWait: SessionWait): Promise<OpenedSigner> {
  const several = flags["hsm-config"] !== undefined || (flags.connectors?.length ?? 0) > 1;
  if (several) return openFleet(flags, sessionWait);
  const pin = (await resolvePin(flags, { required: true }))!;
  const pinSlot = pinSlotOf(flags);
  const store = await openCertStore({
    ...connectorOf(flags),
    pin,
    productTag: flags.product,
    testCert: flags.test_cert ?? false,
    allowTestRoot: flags["allow-test-root"] ?? false,
    sessions: wholeNumberArg(flags.sessions, "sessions", { min: 1, max: 16 }) ?? 4,
    ...(pinSlot === undefined ? {} : { pinSlot }),
    ...(flags.cache_cert ? { certCacheDir: defaultCertCacheDir() } : {}),
    onWarning: (message) => log.warn(message),
    sessionWait,
  });
  if (store.policy.rehearsal) log.warn(`REHEARSAL: ${flags.product} signs with a test root; these devices will not join a production Sidewalk network`);
  return store;
}

/** Opens the signer, runs `use`, and closes the HSM sessions whatever happens. */
export async function withSigner<T>(flags: SignerFlags, use: (signer: OpenedSigner) => Promise<T>): Promise<T> {
  const signer = await openSigner(flags);
  try {
    return await use(signer);
  } finally {
    await signer.close();
  }
}

/** Several HSMs: `--hsm-config FILE`, or `--connector` repeated with the shared TLS and PIN flags. */
async function openFleet(flags: SignerFlags, sessionWait: SessionWait): Promise<OpenedSigner> {
  if (flags["hsm-config"] !== undefined && (flags.connectors?.length ?? 0) > 0) throw new UsageError("give --hsm-config or --connector, not both", { advice: "list every HSM in the config file" });
  let endpoints: HsmEndpoint[];
  let sessions = wholeNumberArg(flags.sessions, "sessions", { min: 1, max: 16 }) ?? 4;
  if (flags["hsm-config"] !== undefined) {
    const config = await readHsmConfig(flags["hsm-config"], flags);
    endpoints = config.endpoints;
    if (config.sessions !== undefined) sessions = config.sessions;
  } else {
    const pin = (await resolvePin(flags, { required: true }))!;
    const pinSlot = pinSlotOf(flags);
    const { tls, allowInsecureConnector } = connectorOf(flags);
    endpoints = flags.connectors!.map((connector) => ({ connector, tls, allowInsecureConnector, pin, ...(pinSlot === undefined ? {} : { pinSlot }) }));
  }
  const common: Partial<CertStoreOptions> = {
    testCert: flags.test_cert ?? false,
    allowTestRoot: flags["allow-test-root"] ?? false,
    ...(flags.cache_cert ? { certCacheDir: defaultCertCacheDir() } : {}),
    onWarning: (message) => log.warn(message),
  };
  const fleet = await HsmFleet.open({
    productTag: flags.product,
    sessions,
    sessionWait,
    endpoints: endpoints.map((e) => ({ ...common, ...e })),
    onEvent: (e) => (e.type === "hsm-up" ? log.info(describeFleetEvent(e)) : log.warn(describeFleetEvent(e))),
  });
  log.info(`${endpoints.length} HSMs for ${flags.product}: ${fleet.status().map((h) => `${h.hsm} (serial ${h.serial})`).join(", ")}`);
  if (fleet.policy.rehearsal) log.warn(`REHEARSAL: ${flags.product} signs with a test root; these devices will not join a production Sidewalk network`);
  return fleet;
}
