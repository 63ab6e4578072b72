// The one CSR check of every flow (CLI sign, batch, the line): checkDeviceCsrs, and the SMSN
// the station computes once per device.
import { describe, expect, test } from "bun:test";
import { deviceSmsn } from "../../src/device/flow.ts";
import { VerificationError } from "../../src/lib/errors.ts";
import { CURVES, computeSmsn, makeCsr, makeTestPki, MemorySigner, checkDeviceCsrs, startSigningDevice, toHex, verifyChain, type Curve } from "../../src/sidewalk/index.ts";

const smsn = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SN0000077", apid: "pd25" });
const keys = { ed25519: CURVES.ed25519.randomPrivateKey(), p256r1: CURVES.p256r1.randomPrivateKey() };
const csr = (c: Curve, s = smsn) => makeCsr(c, keys[c], s);

describe("checkDeviceCsrs", () => {
  test("good CSRs: checked once, then signed without another check", async () => {
    const checked = checkDeviceCsrs(csr("ed25519"), csr("p256r1"), { expectedSmsn: smsn });
    expect(toHex(checked.smsn)).toBe(toHex(smsn));
    const signer = new MemorySigner("TEST_DAK_X", "test", { ed25519: makeTestPki("ed25519"), p256r1: makeTestPki("p256r1") });
    const pending = startSigningDevice(signer, checked);
    expect(verifyChain(await pending.ed25519).ok).toBe(true);
    expect(verifyChain(await pending.p256r1).ok).toBe(true);
  });
  test("every CSR problem is one VerificationError naming it", () => {
    const tampered = csr("ed25519");
    tampered.signature = new Uint8Array(tampered.signature!).fill(1);
    const other = computeSmsn({ deviceType: "A17XHX23H06INH", dsn: "SN0000078", apid: "pd25" });
    const cases: [() => unknown, string][] = [
      [() => checkDeviceCsrs(tampered, csr("p256r1")), "the Ed25519 CSR's signature does not verify with its own public key"],
      [() => checkDeviceCsrs(csr("p256r1"), csr("p256r1")), "the Ed25519 CSR is a P-256 CSR"],
      [() => checkDeviceCsrs(csr("ed25519"), csr("p256r1", other)), "the CSRs name different SMSNs"],
      [() => checkDeviceCsrs(csr("ed25519"), csr("p256r1"), { expectedSmsn: other }), `the device's SMSN ${toHex(smsn)} is not the SMSN ${toHex(other)} computed from device type, DSN and APID`],
    ];
    for (const [run, message] of cases) {
      expect(run).toThrow(VerificationError);
      expect(run).toThrow(message);
    }
  });
});

test("deviceSmsn: the firmware hashes the production stage whatever the HSM's", () => {
  const o = { deviceType: "A17XHX23H06INH", dsn: "SN0000077", apid: "pd25" };
  expect(toHex(deviceSmsn(o))).toBe(toHex(computeSmsn({ ...o, stage: "production" })));
  expect(toHex(deviceSmsn({ ...o, boardId: "B7" }))).toBe(toHex(computeSmsn({ ...o, stage: "production", boardId: "B7" })));
});
