// swtool x509: X.509 device certificates for the non-Sidewalk IoT flows (AWS IoT, Azure DPS):
// read a device public key, run a lab CA, issue and verify certificates, provision devices.
import { defineCommand } from "citty";
import { join } from "node:path";
import { UsageError } from "../lib/errors.ts";
import { toHex } from "../lib/bytes.ts";
import { createLabCa, issueDeviceCertificate, loadCa, selfSignCa } from "../x509/ca.ts";
import { certificatePem } from "../x509/certificate.ts";
import { HSM_PREFIX } from "../x509/hsm-signer.ts";
import { connectorArgs, daysArg, pinArgs } from "./args.ts";
import { parseCertificate, parseCertificates, subjectKeyId } from "../x509/certificate.ts";
import { checkNewFile, writeNewFile, writeNewFiles } from "../x509/files.ts";
import { checkDirectory } from "../lib/atomic.ts";
import { readInput } from "../x509/input.ts";
import { parseDevicePublicKey, publicKeyPem } from "../x509/pubkey.ts";
import { summarize, verifyCertificate } from "../x509/verify.ts";
import type { ByteChannel } from "../transport/channel.ts";
import { openDeviceChannel } from "../transport/open.ts";
import { provisionDevice, ProvisionError } from "../x509/provision/engine.ts";
import type { TranscriptEntry } from "../x509/provision/conversation.ts";
import { DEFAULT_PROFILE, loadProfile } from "../x509/provision/profile.ts";
import { STORED_OBJECTS, type Atecc608Board, type StoredObject } from "../x509/simulator/atecc608.ts";
import { startAtecc608OnPty, startAtecc608OnTcp } from "../x509/simulator/host.ts";
import { emitEvent, log, output, printResult, println } from "./output.ts";
import { openCaSigner } from "./ca-key.ts";
import { mkdirSync } from "node:fs";

/** `--days`, or the command's default. */
const daysOf = (text: string | undefined, fallback: number): number => daysArg(text, "days") ?? fallback;

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
  meta: { name: "init", description: "Create a lab root CA (ca.pem and ca.key, or ca.pem for a key already in the HSM)" },
  args: {
    out: { type: "string", description: "Directory for ca.pem and ca.key", required: true },
    subject: { type: "string", description: 'CA subject, e.g. "CN=Lab CA,O=Acme"', required: true },
    "key-type": { type: "string", description: "p256 (default) | rsa2048" },
    days: { type: "string", description: "Validity in days (default 3650)" },
    force: { type: "boolean", description: "Replace existing ca.pem and ca.key" },
    "ca-key": { type: "string", description: "hsm:<object id>: certify a P-256 key held in the HSM instead of making a key file" },
    ...connectorArgs,
    ...pinArgs,
  },
  async run({ args }) {
    const keyType = (args["key-type"] ?? "p256").toLowerCase().replace(/[-_]/g, "");
    if (keyType !== "p256" && keyType !== "rsa2048") throw new UsageError(`--key-type ${JSON.stringify(args["key-type"])} is not known`, { advice: "use p256 or rsa2048" });
    const days = daysOf(args.days, 3650);
    const certPath = join(args.out, "ca.pem");
    let keyPath: string;
    let cert;
    if (args["ca-key"] !== undefined) {
      if (!args["ca-key"].startsWith(HSM_PREFIX)) throw new UsageError("--ca-key for `ca init` must be hsm:<object id>", { advice: "leave --ca-key out to make a new key file" });
      if (args["key-type"] !== undefined && keyType !== "p256") throw new UsageError("a CA key in the HSM must be P-256");
      // Before the HSM signs: the certificate must have somewhere to go.
      mkdirSync(args.out, { recursive: true });
      checkNewFile(certPath, { force: args.force });
      const hsm = await openCaSigner(args["ca-key"], args);
      try {
        const root = await selfSignCa(hsm.signer, { subject: args.subject, days });
        writeNewFile(certPath, certificatePem(root.der), { force: args.force });
        cert = root.cert;
        keyPath = hsm.signer.description;
      } finally {
        await hsm.close();
      }
    } else {
      const ca = await createLabCa({ subject: args.subject, keyType, days });
      keyPath = join(args.out, "ca.key");
      writeNewFiles([{ path: certPath, data: ca.certPem }, { path: keyPath, data: ca.keyPem, secret: true }], { force: args.force });
      cert = ca.cert;
    }
    const summary = { ...summarize(cert), keyType, subjectKeyId: toHex(subjectKeyId(cert)), certificate: certPath, key: keyPath };
    printResult(summary, () => {
      println(`CA certificate: ${certPath}`);
      println(`CA key:         ${keyPath}${keyPath.startsWith("HSM") ? "" : " (keep it private)"}`);
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
    ...connectorArgs,
    ...pinArgs,
  },
  async run({ args }) {
    const days = daysOf(args.days, 365);
    const publicKey = parseDevicePublicKey(readInput(args.pubkey, "--pubkey"));
    const caData = readInput(args.ca, "--ca");
    const chain = args.chain ? parseCertificates(readInput(args.chain, "--chain"), args.chain) : [];
    // Before the CA key (perhaps in the HSM) signs: the certificate must have somewhere to go.
    if (args.out) checkNewFile(args.out, { force: args.force });
    const { signer, close } = await openCaSigner(args["ca-key"], args);
    let issued;
    try {
      const caCert = loadCa(caData, signer, args.ca);
      issued = await issueDeviceCertificate({ publicKey, ca: caCert, signer, subject: args.subject, days, chain });
    } finally {
      await close();
    }
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

function parseMs(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 60_000) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a number of milliseconds (0 to 60000)`);
  return Number(text);
}

function formatTranscript(entries: TranscriptEntry[]): string {
  return entries.map((e) => `${e.direction === "sent" ? ">>" : "<<"} ${JSON.stringify(e.text.replace(/\0+/g, ""))}`).join("\n") + "\n";
}

const provision = defineCommand({
  meta: { name: "provision", description: "Provision a secure-element device over its serial port: read its key, issue, send and read back certificates" },
  args: {
    port: { type: "string", description: "Serial port, pseudo-terminal, or socket://HOST:PORT", required: true },
    ca: { type: "string", description: "Issuing CA certificate (PEM or DER)", required: true },
    "ca-key": { type: "string", description: "CA private key file, or hsm:<object id>", required: true },
    chain: { type: "string", description: "CA certificates above --ca up to the root" },
    profile: { type: "string", description: `Device profile: built-in name or JSON file (default ${DEFAULT_PROFILE})` },
    subject: { type: "string", description: "Device subject; {serial} is the device's serial number (default from the profile)" },
    days: { type: "string", description: "Certificate validity in days (default 365)" },
    "out-dir": { type: "string", description: "Write <serial>-device.pem and <serial>-pubkey.pem here" },
    "line-delay": { type: "string", description: "Milliseconds between certificate lines (default from the profile)" },
    settle: { type: "string", description: "Milliseconds after a command before data (default from the profile)" },
    transcript: { type: "string", description: "Write everything sent and received to this file" },
    ...connectorArgs,
    ...pinArgs,
  },
  async run({ args }) {
    const days = daysOf(args.days, 365);
    const lineDelayMs = parseMs(args["line-delay"], "--line-delay");
    const settleMs = parseMs(args.settle, "--settle");
    const profile = loadProfile(args.profile ?? DEFAULT_PROFILE);
    const caData = readInput(args.ca, "--ca");
    const chain = args.chain ? parseCertificates(readInput(args.chain, "--chain"), args.chain) : [];
    // Before the CA key (perhaps in the HSM) opens and the device is touched: a provisioned
    // device's certificate and transcript must have somewhere to go.
    if (args["out-dir"]) checkDirectory(args["out-dir"], "--out-dir", { create: true });
    if (args.transcript) checkNewFile(args.transcript, { force: true, flag: "--transcript" });
    const { signer, close } = await openCaSigner(args["ca-key"], args);
    let channel: ByteChannel | undefined;
    let transcript: TranscriptEntry[] = [];
    try {
      const caCert = loadCa(caData, signer, args.ca);
      channel = await openDeviceChannel(args.port);
      const result = await provisionDevice(channel, profile, {
        ca: caCert,
        signer,
        chain,
        subject: args.subject,
        days,
        ...(lineDelayMs !== undefined ? { lineDelayMs } : {}),
        ...(settleMs !== undefined ? { settleMs } : {}),
        onStep: (s) => log.info(`${s.step}. ${JSON.stringify(s.send)} ${s.detail}`),
      });
      transcript = result.transcript;
      const name = result.serial ?? toHex(subjectKeyId(result.certificate.cert)).slice(0, 16);
      const files = args["out-dir"] ? { certificate: join(args["out-dir"], `${name}-device.pem`), publicKey: join(args["out-dir"], `${name}-pubkey.pem`) } : undefined;
      if (files) {
        writeNewFile(files.certificate, result.certificate.pem);
        writeNewFile(files.publicKey, result.publicKeyPem);
      }
      const summary = { ok: true, port: result.port, profile: result.profile, serial: result.serial, certificate: result.certificate.report.certificate, steps: result.steps, ...(files ? { files } : {}) };
      printResult(summary, () => println(`OK ${result.port}: device ${result.serial ?? "(no serial)"} provisioned, certificate ${summary.certificate.subject} serial ${summary.certificate.serial}`));
    } catch (error) {
      if (error instanceof ProvisionError) transcript = error.transcript;
      throw error;
    } finally {
      await channel?.close();
      await close();
      if (args.transcript) writeNewFile(args.transcript, formatTranscript(transcript), { force: true });
      else if (output.verbose && transcript.length) process.stderr.write(formatTranscript(transcript));
    }
  },
});

function storedObject(text: string | undefined, flag: string): StoredObject | undefined {
  if (text === undefined) return undefined;
  if (!STORED_OBJECTS.includes(text as StoredObject)) throw new UsageError(`${flag} ${JSON.stringify(text)} is not known`, { advice: `use one of ${STORED_OBJECTS.join(", ")}` });
  return text as StoredObject;
}

const simulate = defineCommand({
  meta: { name: "simulate", description: "Simulate an ESP32 + ATECC608 board running the provisioning firmware (atecc608-esp32 profile)" },
  args: {
    listen: { type: "string", description: "HOST:PORT to listen on (each connection is a new board; port 0: any free port); default" },
    pty: { type: "boolean", description: "One board on a pseudo-terminal instead (Linux); its path is printed" },
    serial: { type: "string", description: "Chip serial number, 18 hex digits (default random 0123...ee)" },
    corrupt: { type: "string", description: `Store a damaged copy of: ${STORED_OBJECTS.join(" | ")}` },
    "fail-write": { type: "string", description: `The chip write of this object fails: ${STORED_OBJECTS.join(" | ")}` },
  },
  async run({ args }) {
    const listen = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(args.listen ?? "127.0.0.1:0");
    if (!listen || Number(listen[2]) > 65535) throw new UsageError(`--listen ${JSON.stringify(args.listen)} is not HOST:PORT`, { advice: "e.g. --listen 127.0.0.1:4001" });
    if (args.serial !== undefined && !/^[0-9a-fA-F]{18}$/.test(args.serial)) throw new UsageError("--serial must be 18 hex digits (9 bytes, like 0123c4b09bb2b877ee)");
    const corrupt = storedObject(args.corrupt, "--corrupt");
    const failWrite = storedObject(args["fail-write"], "--fail-write");
    if (args.pty && args.listen !== undefined) throw new UsageError("--pty and --listen exclude each other", { advice: "choose a pseudo-terminal or a TCP port" });
    const board = {
      ...(args.serial ? { serial: args.serial.toLowerCase() } : {}),
      ...(corrupt ? { corrupt } : {}),
      ...(failWrite ? { failWrite } : {}),
      onBoard: (b: Atecc608Board) => log.info(`board ${b.state.serial} powered on`),
    };
    const host = (listen[1] ?? "127.0.0.1").replace(/^\[|\]$/g, "");
    const sim = args.pty ? await startAtecc608OnPty(board) : await startAtecc608OnTcp({ ...board, host, port: Number(listen[2]) });
    if (output.json) emitEvent({ type: "ready", port: sim.port });
    else println(sim.port);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await sim.close();
  },
});

export default defineCommand({
  meta: { name: "x509", description: "X.509 device certificates: public keys, lab CA, issue, verify, provision" },
  subCommands: { pubkey, ca, issue, verify, provision, simulate },
});

