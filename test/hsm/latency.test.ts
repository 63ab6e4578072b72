// The YubiHSM 2 latency model: Yubico's published figures (EdDSA 105 ms over 32 bytes, 121 ms
// over 64 bytes, ECDSA P-256 73 ms), each plus 1 ms for the USB transfer.
import { expect, test } from "bun:test";
import { CMD } from "../../src/hsm/protocol.ts";
import { commandLatencyMs } from "../../src/hsm/simulator/latency.ts";

test("Ed25519 over a Sidewalk device certificate (pubkey || SMSN, 64 bytes) takes 121 ms, P-256 73 ms", () => {
  // The payload is the 2-byte key id, then the message.
  expect(commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 64)).toBe(1 + 121);
  expect(commandLatencyMs("yubihsm2", CMD.SIGN_EDDSA, 2 + 32)).toBe(1 + 105);
  expect(commandLatencyMs("yubihsm2", CMD.SIGN_ECDSA, 2 + 32)).toBe(1 + 73);
  expect(commandLatencyMs("none", CMD.SIGN_EDDSA, 2 + 64)).toBe(0);
});
