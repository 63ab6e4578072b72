// What `swtool hsm info` shows: the device, its storage, every object the key slot sees, the
// Sidewalk products found and whether each product's chain is complete and verifies.
import { isAmazonRoot } from "../../sidewalk/chain.ts";
import { CURVE_NAMES, type Curve } from "../../sidewalk/curves.ts";
import { stageOfProductTag } from "../../sidewalk/smsn.ts";
import { checkProductChains, listKeys, productTagsOf, readLayout, readProductChains } from "./certstore.ts";
import type { HsmClient } from "../../hsm/client.ts";
import type { StorageInfo } from "../../hsm/commands/get-storage-info.ts";
import { ALGORITHM_NAMES, hex16, OBJECT_TYPE_NAMES } from "../../hsm/protocol.ts";
import type { LayoutKind } from "./layout.ts";

export interface ObjectSummary {
  id: string;
  type: string;
  algorithm: string;
  label: string;
  size: number;
  domains: string;
  capabilities: string;
}

export interface ProductSummary {
  productTag: string;
  /** Every certificate and key of both chains is present. */
  complete: boolean;
  /** DAK keys match their certificates and both CA chains verify. */
  verifies: boolean;
  amazonRoot?: Record<Curve, boolean>;
  problem?: string;
}

export interface Inventory {
  layout?: LayoutKind;
  toolreq?: string;
  layoutProblem?: string;
  storage: StorageInfo;
  objects: ObjectSummary[];
  products: ProductSummary[];
}

function domainList(mask: number): string {
  const out: number[] = [];
  for (let d = 0; d < 16; d++) if (mask & (1 << d)) out.push(d + 1);
  return out.length === 16 ? "all" : out.join(",");
}

export async function inventory(client: HsmClient): Promise<Inventory> {
  const storage = await client.storageInfo();
  const objects: ObjectSummary[] = [];
  for (const ref of await client.listObjects()) {
    const info = await client.getObjectInfo(ref.id, ref.type);
    objects.push({
      id: hex16(info.id),
      type: OBJECT_TYPE_NAMES[info.type] ?? `type-${info.type}`,
      algorithm: ALGORITHM_NAMES[info.algorithm] ?? `algorithm-${info.algorithm}`,
      label: info.label,
      size: info.size,
      domains: domainList(info.domains),
      capabilities: `0x${info.capabilities.toString(16).padStart(16, "0")}`,
    });
  }
  const out: Inventory = { storage, objects, products: [] };
  let layoutInfo;
  try {
    layoutInfo = await readLayout(client);
    out.layout = layoutInfo.layout;
    if (layoutInfo.hsmInfo) out.toolreq = layoutInfo.hsmInfo.toolreq;
  } catch (e) {
    out.layoutProblem = (e as Error).message;
  }
  const keys = await listKeys(client);
  for (const productTag of productTagsOf(keys)) {
    const p: ProductSummary = { productTag, complete: false, verifies: false };
    try {
      if (!layoutInfo) throw new Error(out.layoutProblem);
      // A tag without a stage prefix can only be signed with --test_cert: show it as the test stage.
      const chains = await readProductChains(client, productTag, stageOfProductTag(productTag, { testCert: true }), layoutInfo, keys);
      p.complete = true;
      p.amazonRoot = Object.fromEntries(CURVE_NAMES.map((c) => [c, isAmazonRoot(c, chains.caCerts[c][chains.caCerts[c].length - 1]!)])) as Record<Curve, boolean>;
      await checkProductChains(client, chains);
      p.verifies = true;
    } catch (e) {
      p.problem = (e as Error).message;
    }
    out.products.push(p);
  }
  return out;
}
