// Amazon's Sidewalk production roots, pinned from the real chains in test/vectors/sidewalk-seed.json.
// A production chain must end at exactly this certificate's serial and public key.
import { fromHex } from "../lib/bytes.ts";
import type { Curve } from "./curves.ts";

export interface PinnedRoot {
  serial: Uint8Array;
  publicKey: Uint8Array;
}

export const AMAZON_PRODUCTION_ROOT: Record<Curve, PinnedRoot> = {
  ed25519: {
    serial: fromHex("01800003"),
    publicKey: fromHex("3b277fd4832193e80d71744dd0bd3cea93825774a170e5d973da543e02bef2de"),
  },
  p256r1: {
    serial: fromHex("01800002"),
    publicKey: fromHex(
      "050720a34a9ff9587738021b328ccbca0ac65088a82223c102c237d705a499758e3362c4653b7142e36f07d5ab6b1428450994f406ab792cf5c3dfc6cc481faf",
    ),
  },
};
