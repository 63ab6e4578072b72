// `--ca-key`: the key a CA signs with, for every CA command (`swtool x509`, `swtool pki`): a
// key file, or `hsm:<object id>`, a P-256 key held in the YubiHSM and reached with the
// connector and PIN flags. Both are one CaSigner to the X.509 engine.
import { closeAllHsmClients, openAuthenticatedClient } from "../hsm/client.ts";
import { Connector } from "../hsm/transport.ts";
import { authSlotsFor } from "../signer/hsm/layout.ts";
import { fileSigner, type CaSigner } from "../x509/ca-signer.ts";
import { HSM_PREFIX, hsmKeyId, hsmSigner } from "../x509/hsm-signer.ts";
import { readInput } from "../x509/input.ts";
import { connectorOf, pinSlotOf, resolvePin, type ConnectorFlags, type PinFlags } from "./pin.ts";

export type HsmFlags = PinFlags & ConnectorFlags;

export const isHsmKey = (spec: string | undefined): spec is string => spec !== undefined && spec.startsWith(HSM_PREFIX);

/** The CA key named by --ca-key: a key file, or `hsm:<object id>` reached with the HSM flags. */
export async function openCaSigner(spec: string, flags: HsmFlags): Promise<{ signer: CaSigner; close: () => Promise<void> }> {
  if (!isHsmKey(spec)) return { signer: fileSigner(readInput(spec, "--ca-key"), spec), close: async () => {} };
  const keyId = hsmKeyId(spec);
  const c = connectorOf(flags);
  const connector = new Connector({ url: c.connector, tls: c.tls, allowInsecureConnector: c.allowInsecureConnector });
  const pin = await resolvePin(flags);
  process.once("SIGINT", () => void closeAllHsmClients().finally(() => process.exit(130)));
  const client = await openAuthenticatedClient(connector, pin!, authSlotsFor(undefined, pinSlotOf(flags)));
  try {
    return { signer: await hsmSigner(client, keyId), close: () => client.close() };
  } catch (e) {
    await client.close();
    throw e;
  }
}
