// swtool x509: X.509 device certificates for the non-Sidewalk IoT flows (AWS IoT, Azure DPS):
// read a device public key, run a lab CA, issue and verify certificates, provision devices.
import { defineCommand } from "citty";
import { parseDevicePublicKey, publicKeyPem } from "../x509/pubkey.ts";
import { readInput } from "../x509/input.ts";
import { printResult } from "./output.ts";
import { toHex } from "../sidewalk/bytes.ts";

const pubkey = defineCommand({
  meta: { name: "pubkey", description: "Read a device public key (console dump, hex, DER, PEM, raw point) and print it as PEM" },
  args: {
    input: { type: "positional", description: "File, - for standard input, or the key as hex", required: true },
  },
  run({ args }) {
    const key = parseDevicePublicKey(readInput(args.input, "x509 pubkey"));
    const pem = publicKeyPem(key);
    printResult({ curve: "P-256", point: toHex(key.point), spki: toHex(key.spki), pem }, () => process.stdout.write(pem));
  },
});

export default defineCommand({
  meta: { name: "x509", description: "X.509 device certificates: public keys, lab CA, issue, verify, provision" },
  subCommands: { pubkey },
});
