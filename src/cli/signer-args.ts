// The HSM signer as the signing commands open it: product tag, connector, PIN and slot flags,
// and the one switch that lets a rehearsal line sign under a production tag with a test root.
import type { ArgsDef } from "citty";
import { VerificationError } from "../lib/errors.ts";
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
} as const satisfies ArgsDef;

export interface SignerFlags extends ConnectorFlags, PinFlags {
  product: string;
  sessions?: string;
  "allow-test-root"?: boolean;
}

export interface OpenedSigner extends HsmCertStore {
  /** Whether chains must end at Amazon's production root (production tag, not a rehearsal). */
  readonly requireAmazonRoot: boolean;
}

export async function openSigner(flags: SignerFlags): Promise<OpenedSigner> {
  const pin = (await resolvePin(flags, { required: true }))!;
  const pinSlot = pinSlotOf(flags);
  const store = await openCertStore({
    ...connectorOf(flags),
    pin,
    productTag: flags.product,
    sessions: wholeNumberArg(flags.sessions, "sessions", { min: 1, max: 16 }) ?? 4,
    ...(pinSlot === undefined ? {} : { pinSlot }),
  });
  const production = store.stage === "production";
  const amazon = store.amazonRoot("ed25519") && store.amazonRoot("p256r1");
  if (production && !amazon) {
    if (!flags["allow-test-root"]) {
      await store.close();
      throw new VerificationError(
        `the HSM's chain for ${flags.product} does not end at Amazon's production root, but the tag names a production product`,
        { advice: "use the real production HSM; to rehearse with a test chain add --allow-test-root (devices signed so will not work in the field)" },
      );
    }
    log.warn(`REHEARSAL: ${flags.product} signs with a test root; these devices will not join a production Sidewalk network`);
  }
  return Object.assign(store, { requireAmazonRoot: production && amazon });
}
