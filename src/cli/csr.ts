// swtool csr decode: shows what a device CSR holds and whether its signature verifies.
import { defineCommand } from "citty";
import { CURVES, decodeCsrBase64, parseCurve, toHex, verifyCsr } from "../sidewalk/index.ts";
import { printResult, println } from "./output.ts";

const decode = defineCommand({
  meta: { name: "decode", description: "Decode a base64 device CSR (Ed25519 or P-256) and check its signature" },
  args: {
    csr: { type: "positional", description: "The CSR in base64, as the device printed it", required: true },
    curve: { type: "string", description: "ed25519 | p256r1 (detected from the length when omitted)" },
  },
  run({ args }) {
    const csr = decodeCsrBase64(args.csr, args.curve ? parseCurve(args.curve) : undefined);
    const signed = csr.signature !== undefined;
    const verified = verifyCsr(csr);
    const result = {
      curve: csr.curve,
      publicKey: toHex(csr.publicKey),
      smsn: toHex(csr.smsn),
      signature: csr.signature ? toHex(csr.signature) : null,
      signatureOk: signed ? verified : null,
    };
    printResult(result, () => {
      println(`curve:      ${CURVES[csr.curve].display}`);
      println(`public key: ${result.publicKey}`);
      println(`SMSN:       ${result.smsn}`);
      println(`signature:  ${signed ? (verified ? "ok" : "FAILED") : "none (unsigned CSR)"}`);
    });
    if (signed && !verified) process.exitCode = 1;
  },
});

export default defineCommand({
  meta: { name: "csr", description: "Work with device CSRs" },
  subCommands: { decode },
});
