// Latency model of a real YubiHSM 2, for rehearsing line throughput (`--latency yubihsm2`).
//
// Figures (milliseconds per operation on an otherwise idle device):
// - sign-ecdsa P-256 (SHA-256 digest): 73 ms; sign-eddsa Ed25519: 105 ms over 32 bytes and
//   121 ms over 64 bytes. These are the example metrics in Yubico's product overview / "YubiHSM 2
//   Device Specifications", section "Performance". EdDSA grows with the data length (the device
//   hashes the message twice with SHA-512): we interpolate linearly through the two published
//   points, 0.5 ms per byte over 32. Sidewalk signs `pubkey || SMSN`, 64 bytes: 121 ms.
// - Key generation (EC P-256 / Ed25519): taken as one signature's time (estimate).
// - Session set-up (create + authenticate): 10 ms + 5 ms; object writes 15 ms (flash page
//   writes); every other command 2 ms; plus 1 ms per command for the USB 1.x full-speed
//   (12 Mbit/s) bulk transfer. These are estimates, not published figures.
// The device runs one command at a time for all 16 sessions ("the device still serves as a
// rendezvous point", Yubico "Concept: Session"), so the model serialises commands: more
// sessions do not make signing faster, exactly as on the device.
import { CMD } from "../protocol.ts";

export type LatencyProfile = "none" | "yubihsm2";

const USB_MS = 1;
const EDDSA_32_MS = 105;
/** (121 ms at 64 bytes - 105 ms at 32 bytes) / 32 bytes. */
const EDDSA_MS_PER_BYTE = (121 - 105) / 32;

export function commandLatencyMs(profile: LatencyProfile, code: number, payloadLength: number): number {
  if (profile === "none") return 0;
  switch (code) {
    case CMD.SIGN_ECDSA:
      return USB_MS + 73;
    case CMD.SIGN_EDDSA:
      return USB_MS + EDDSA_32_MS + Math.max(0, payloadLength - 2 - 32) * EDDSA_MS_PER_BYTE;
    case CMD.GENERATE_ASYMMETRIC_KEY:
      return USB_MS + 90;
    case CMD.CREATE_SESSION:
      return USB_MS + 10;
    case CMD.AUTHENTICATE_SESSION:
      return USB_MS + 5;
    case CMD.PUT_OPAQUE:
    case CMD.PUT_ASYMMETRIC_KEY:
    case CMD.PUT_AUTHENTICATION_KEY:
    case CMD.DELETE_OBJECT:
      return USB_MS + 15;
    default:
      return USB_MS + 2;
  }
}
