// The HSM signer as the signing commands open it: product tag, connector, PIN and slot flags,
// the one switch that lets a rehearsal line sign under a production tag with a test root, and
// the certificate cache (`--cache_cert`).
import type { ArgsDef } from "citty";
import { defaultCertCacheDir } from "../signer/hsm/cert-cache.ts";
import { openCertStore, type HsmCertStore } from "../signer/hsm/certstore.ts";
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
} as const satisfies ArgsDef;

export interface SignerFlags extends ConnectorFlags, PinFlags {
  product: string;
  sessions?: string;
  "allow-test-root"?: boolean;
  test_cert?: boolean;
  cache_cert?: boolean;
}

/** Opens the HSM's certificate store under its signing policy; a rehearsal is said out loud. */
export async function openSigner(flags: SignerFlags): Promise<HsmCertStore> {
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
  });
  if (store.policy.rehearsal) log.warn(`REHEARSAL: ${flags.product} signs with a test root; these devices will not join a production Sidewalk network`);
  return store;
}

/** Opens the signer, runs `use`, and closes the HSM sessions whatever happens. */
export async function withSigner<T>(flags: SignerFlags, use: (signer: HsmCertStore) => Promise<T>): Promise<T> {
  const signer = await openSigner(flags);
  try {
    return await use(signer);
  } finally {
    await signer.close();
  }
}
