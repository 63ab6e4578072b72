// swtool x509: X.509 device certificates for the non-Sidewalk IoT flows (AWS IoT, Azure DPS):
// read a device public key, run a lab CA, issue and verify certificates, provision devices.
import { defineCommand } from "citty";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { toHex } from "../sidewalk/bytes.ts";
import { createLabCa, issueDeviceCertificate, loadCa } from "../x509/ca.ts";
import { fileSigner, type CaSigner } from "../x509/ca-signer.ts";
import { parseCertificate, parseCertificates, subjectKeyId } from "../x509/certificate.ts";
import { writeNewFile } from "../x509/files.ts";
import { readInput } from "../x509/input.ts";
import { parseDevicePublicKey, publicKeyPem } from "../x509/pubkey.ts";
import { summarize, verifyCertificate } from "../x509/verify.ts";
import { log, printResult, println } from "./output.ts";

function parseDays(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text)) throw new UsageError(`--days ${JSON.stringify(text)} is not a whole number of days`);
  return Number(text);
}

/** The CA key named by --ca-key: a key file, or `hsm:<object id>`. */
async function openCaSigner(spec: string): Promise<CaSigner> {
  if (spec.startsWith("hsm:")) {
    throw new UsageError("--ca-key hsm:<id> needs the YubiHSM client, which this build does not have yet", { advice: "use a CA key file" });
  }
  return fileSigner(readInput(spec, "--ca-key"), spec);
}

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

const caInit = defineCommand({
  meta: { name: "init", description: "Create a lab root CA (ca.pem and ca.key) for testing" },
  args: {
    out: { type: "string", description: "Directory for ca.pem and ca.key", required: true },
    subject: { type: "string", description: 'CA subject, e.g. "CN=Lab CA,O=Acme"', required: true },
    "key-type": { type: "string", description: "p256 (default) | rsa2048" },
    days: { type: "string", description: "Validity in days (default 3650)" },
    force: { type: "boolean", description: "Replace existing ca.pem and ca.key" },
  },
  async run({ args }) {
    const keyType = (args["key-type"] ?? "p256").toLowerCase().replace(/[-_]/g, "");
    if (keyType !== "p256" && keyType !== "rsa2048") throw new UsageError(`--key-type ${JSON.stringify(args["key-type"])} is not known`, { advice: "use p256 or rsa2048" });
    const ca = await createLabCa({ subject: args.subject, keyType, days: parseDays(args.days, 3650) });
    const certPath = join(args.out, "ca.pem");
    const keyPath = join(args.out, "ca.key");
    writeNewFile(certPath, ca.certPem, { force: args.force });
    writeNewFile(keyPath, ca.keyPem, { force: args.force, secret: true });
    const summary = { ...summarize(ca.cert), keyType, subjectKeyId: toHex(subjectKeyId(ca.cert)), certificate: certPath, key: keyPath };
    printResult(summary, () => {
      println(`CA certificate: ${certPath}`);
      println(`CA key:         ${keyPath} (keep it private)`);
      println(`subject:        ${summary.subject}`);
      println(`valid until:    ${summary.notAfter}`);
    });
  },
});

const ca = defineCommand({
  meta: { name: "ca", description: "Lab certificate authority" },
  subCommands: { init: caInit },
});

const issue = defineCommand({
  meta: { name: "issue", description: "Issue a device certificate for a public key (the CA never sees the private key)" },
  args: {
    pubkey: { type: "string", description: "Device public key: file, - or hex (console dump, DER, PEM, raw point)", required: true },
    ca: { type: "string", description: "CA certificate (PEM or DER)", required: true },
    "ca-key": { type: "string", description: "CA private key file, or hsm:<object id>", required: true },
    subject: { type: "string", description: 'Device subject (default "CN=<key identifier>")' },
    days: { type: "string", description: "Validity in days (default 365)" },
    chain: { type: "string", description: "CA certificates above --ca up to the root, to check the new certificate's chain" },
    out: { type: "string", description: "Write the certificate PEM here instead of standard output" },
    force: { type: "boolean", description: "Replace --out if it exists" },
  },
  async run({ args }) {
    const days = parseDays(args.days, 365);
    const publicKey = parseDevicePublicKey(readInput(args.pubkey, "--pubkey"));
    const signer = await openCaSigner(args["ca-key"]);
    const caCert = loadCa(readInput(args.ca, "--ca"), signer, args.ca);
    const chain = args.chain ? parseCertificates(readInput(args.chain, "--chain"), args.chain) : [];
    const issued = await issueDeviceCertificate({ publicKey, ca: caCert, signer, subject: args.subject, days, chain });
    if (args.out) writeNewFile(args.out, issued.pem, { force: args.force });
    const summary = { ...issued.report.certificate, pem: issued.pem, ...(args.out ? { file: args.out } : {}) };
    printResult(summary, () => {
      if (!args.out) process.stdout.write(issued.pem);
      else log.success(`${args.out}: ${summary.subject}, serial ${summary.serial}, valid until ${summary.notAfter}`);
    });
  },
});

const verify = defineCommand({
  meta: { name: "verify", description: "Verify a certificate against CA certificates: chain, validity dates, key usage" },
  args: {
    cert: { type: "positional", description: "Certificate (PEM or DER)", required: true },
    ca: { type: "string", description: "CA certificate(s), PEM bundle up to the root", required: true },
  },
  run({ args }) {
    const cert = parseCertificate(readInput(args.cert, "certificate"), args.cert);
    const cas = parseCertificates(readInput(args.ca, "--ca"), args.ca);
    const report = verifyCertificate(cert, cas);
    printResult(report, () => {
      println(`subject: ${report.certificate.subject}`);
      println(`issuer:  ${report.certificate.issuer}`);
      println(`serial:  ${report.certificate.serial}`);
      for (const c of report.checks) println(`  ${c.ok ? "ok    " : "FAILED"} ${c.name}: ${c.detail}`);
      println(report.ok ? `OK (chain: ${report.chain.join(" <- ")})` : "FAILED");
    });
    if (!report.ok) process.exitCode = 1;
  },
});

export default defineCommand({
  meta: { name: "x509", description: "X.509 device certificates: public keys, lab CA, issue, verify, provision" },
  subCommands: { pubkey, ca, issue, verify },
});

