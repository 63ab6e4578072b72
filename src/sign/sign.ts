// Signs one device request with the DAK and checks what the reference checks afterwards:
// that any private key given belongs to the public key that was certified.
import { VerificationError } from "../lib/errors.ts";
import { equal } from "../lib/bytes.ts";
import { CURVES } from "../sidewalk/curves.ts";
import { signDevice, type DakSigner } from "../sidewalk/signer.ts";
import type { SigningResult } from "../formats/signing-output.ts";
import type { DeviceRequest } from "./request.ts";

export type { SigningResult };

export async function signRequest(signer: DakSigner, request: DeviceRequest, applicationServerPublicKey?: Uint8Array): Promise<SigningResult> {
  const chains = await signDevice(signer, request.csrs.ed25519, request.csrs.p256r1, {
    ...(request.expectedSmsn ? { expectedSmsn: request.expectedSmsn } : {}),
    allowUnsignedCsr: request.legacyKeys,
  });
  for (const curve of ["ed25519", "p256r1"] as const) {
    const key = request.keys[curve];
    if (key && !equal(key.publicKey, chains[curve].certs[0]!.publicKey)) {
      throw new VerificationError(`the ${CURVES[curve].display} private key given does not match the public key in the CSR`, {
        advice: "the key file belongs to another device, or the CSR was taken from another device",
      });
    }
  }
  const result: SigningResult = { chains, stage: signer.stage, keys: request.keys };
  if (request.apid) result.apid = request.apid;
  if (applicationServerPublicKey) result.applicationServerPublicKey = applicationServerPublicKey;
  return result;
}
