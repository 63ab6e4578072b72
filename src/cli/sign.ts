// swtool sign: a drop-in for Amazon's sid_signing_tool (same flags, outputs and refusals),
// plus batch signing (--batch). The production line (--port) is wired in from src/device.
import { defineCommand, type ArgsDef } from "citty";
import { UsageError } from "../lib/errors.ts";
import { controlLogEntryFor, writeControlLog } from "../controllog/writer.ts";
import { checkDirectory, checkOutputPath, writeOutputSync } from "../lib/atomic.ts";
import { readBatchFile, runBatch } from "../sign/batch.ts";
import { formatFlat, formatJson, outputMode } from "../formats/signing-output.ts";
import { parseAppServerKey, readDeviceProfile } from "../sign/profile.ts";
import { checkSignOptions, deviceRequest, stageFor, type SignOptions } from "../sign/request.ts";
import { signRequest } from "../sign/sign.ts";
import { openSigner, signerArgs } from "./signer-args.ts";
import { lineArgs, repeatedArg, runLineCommand } from "./line-args.ts";
import { emitEvent, log, output, println } from "./output.ts";
import { wholeNumberArg } from "./args.ts";

const deviceArgs = {
  eddsa_csr: { type: "string", description: "Ed25519 CSR from the device (base64)" },
  ecdsa_csr: { type: "string", description: "P-256 CSR from the device (base64)" },
  smsn_len: { type: "string", alias: ["s"], description: "Length of the SMSN (32; kept for compatibility)" },
  generate_smsn: { type: "boolean", alias: ["g"], description: "Compute the SMSN from --device_type, --dsn and --apid" },
  device_type: { type: "string", alias: ["d"], description: "Device type id of the product" },
  dsn: { type: "string", alias: ["D"], description: "Device serial number" },
  apid: { type: "string", alias: ["a"], description: "Advertised product id (4 characters)" },
  board_id: { type: "string", description: "Board id appended to the SMSN hash input (swtool extension)" },
  ed25519_private_key: { type: "string", description: "Device Ed25519 private key (hex)" },
  p256r1_private_key: { type: "string", description: "Device P-256 private key (hex)" },
  ed25519_private_key_file: { type: "string", description: "Device Ed25519 private key (PEM, PKCS#8)" },
  p256r1_private_key_file: { type: "string", description: "Device P-256 private key (PEM, SEC1 or PKCS#8)" },
} as const satisfies ArgsDef;

export default defineCommand({
  meta: { name: "sign", description: "Sign device certificates with the HSM's DAK (drop-in for sid_signing_tool)" },
  args: {
    ...signerArgs,
    ...deviceArgs,
    device_profile_json: { type: "string", description: "Output of `aws iotwireless get-device-profile` (application server key)" },
    app_server_public_key: { type: "string", description: "Application server public key (hex or base64), instead of --device_profile_json" },
    o: { type: "string", description: "Output file (default: stdout); with --batch, the output directory" },
    outform: { type: "string", description: "json | flat", default: "json" },
    control_log_dir: { type: "string", description: "Write one 4-0-1 control log per device into this directory" },
    control_log_ver: { type: "string", description: "Control log version", default: "4-0-1" },
    verify_cert: { type: "string", description: "Kept for compatibility: swtool always verifies chains (0 is refused)", default: "1" },
    test_cert: { type: "boolean", description: "Use the test stage when the product tag has no stage prefix" },
    batch: { type: "string", description: "CSV file, one device per row (dsn, and CSRs or key files)" },
    "fail-fast": { type: "boolean", description: "With --batch: stop at the first failing row" },
    ...lineArgs,
  },
  async run({ args, rawArgs }) {
    if (args.outform !== "json" && args.outform !== "flat") throw new UsageError(`--outform ${args.outform}: use json or flat`);
    if (args.verify_cert !== "1") {
      if (args.verify_cert !== "0") throw new UsageError(`--verify_cert ${args.verify_cert}: use 0 or 1`);
      log.warn("--verify_cert 0 is ignored: swtool verifies every chain before it is written");
    }
    const options: SignOptions = {
      product: args.product,
      testCert: args.test_cert,
      controlLogVer: args.control_log_ver,
      generateSmsn: args.generate_smsn,
      ...defined({
        eddsaCsr: args.eddsa_csr, ecdsaCsr: args.ecdsa_csr, deviceType: args.device_type, dsn: args.dsn, apid: args.apid, boardId: args.board_id,
        ed25519PrivateKey: args.ed25519_private_key, p256r1PrivateKey: args.p256r1_private_key,
        ed25519PrivateKeyFile: args.ed25519_private_key_file, p256r1PrivateKeyFile: args.p256r1_private_key_file,
        controlLogDir: args.control_log_dir, clientCert: args["client-cert"], clientKey: args["client-key"],
        smsnLen: wholeNumberArg(args.smsn_len, "smsn_len", { min: 1 }),
      }),
    };
    const stage = stageFor(args.product, args.test_cert);
    if (args.device_profile_json && args.app_server_public_key) throw new UsageError("give --device_profile_json or --app_server_public_key, not both");
    const appKey = args.device_profile_json
      ? readDeviceProfile(args.device_profile_json).applicationServerPublicKey
      : args.app_server_public_key ? parseAppServerKey(args.app_server_public_key) : undefined;

    const ports = repeatedArg(rawArgs, "port");
    if (ports.length) {
      // The production line: devices make their own CSRs over the fixture's serial port.
      if (args.batch || args.eddsa_csr || args.ecdsa_csr || args.ed25519_private_key_file || args.p256r1_private_key_file) {
        throw new UsageError("--port provisions devices that make their own keys: leave out --batch, CSRs and key files");
      }
      if (!args.device_type || !args.apid) throw new UsageError("the line needs --device_type and --apid (the device computes its SMSN from them)");
      if (!appKey) throw new UsageError("the line needs the application server public key", { advice: "add --device_profile_json FILE or --app_server_public_key HEX" });
      if (!args.control_log_dir) throw new UsageError("the line needs --control_log_dir (one control log per provisioned device)");
      checkOutputs({ controlLogDir: args.control_log_dir, createControlLogDir: true });
      const maxSignatures = args.device_profile_json ? readDeviceProfile(args.device_profile_json).dak.find((d) => d.maxAllowedSignature !== undefined)?.maxAllowedSignature : undefined;
      await withSigner(args, (signer) =>
        runLineCommand(args, ports, {
          signer,
          deviceType: args.device_type!,
          apid: args.apid!,
          appServerPublicKey: appKey,
          controlLogDir: args.control_log_dir!,
          ...(args.board_id ? { boardId: args.board_id } : {}),
          ...(args.dsn ? { dsn: args.dsn } : {}),
          ...(maxSignatures !== undefined ? { maxSignatures } : {}),
        }),
      );
      return;
    }

    if (args.batch) {
      const { product: _p, testCert: _t, controlLogVer: _v, clientCert: _c, clientKey: _k, controlLogDir: _d, smsnLen: _s, ...defaults } = options;
      const rows = readBatchFile(args.batch, defaults);
      const outDir = args.o ?? ".";
      checkOutputs({ outDir, controlLogDir: args.control_log_dir });
      await withSigner(args, async (signer) => {
        const results = await runBatch(rows, {
          signer, outDir, failFast: args["fail-fast"],
          // Fail-fast means no row after the failing one: one at a time.
          concurrency: args["fail-fast"] ? 1 : wholeNumberArg(args.sessions, "sessions", { min: 1, max: 16 }),
          ...(args.control_log_dir ? { controlLogDir: args.control_log_dir } : {}),
          ...(appKey ? { applicationServerPublicKey: appKey } : {}),
          check: (inputs) => checkSignOptions({ ...options, ...inputs }),
          onResult: (r) => {
            if (output.json) emitEvent({ event: "device", ...r });
            else if (r.ok) log.success(`line ${r.line} ${r.dsn ?? ""} ${r.smsn} -> ${r.output}${r.controlLog ? `, ${r.controlLog}` : ""}`);
            else log.error(`line ${r.line} ${r.dsn ?? ""}: ${r.error}`);
          },
        });
        const failed = results.filter((r) => !r.ok);
        const summary = { rows: rows.length, signed: results.length - failed.length, failed: failed.length, notAttempted: rows.length - results.length };
        if (output.json) emitEvent({ event: "summary", ...summary });
        else println(`batch: ${summary.signed} signed, ${summary.failed} failed${summary.notAttempted ? `, ${summary.notAttempted} not attempted (--fail-fast)` : ""} of ${summary.rows} rows`);
        if (failed.length || summary.notAttempted) process.exitCode = 1;
      });
      return;
    }

    checkSignOptions(options);
    const request = deviceRequest(options, stage);
    checkOutputs({ output: args.o, controlLogDir: args.control_log_dir });
    await withSigner(args, async (signer) => {
      const result = await signRequest(signer, request, appKey);
      const text = args.outform === "json" ? formatJson(result) : formatFlat(result);
      // -o is rewritten per device by line scripts (the reference overwrites too).
      writeOutputSync(args.o ?? "-", text, { replace: true, mode: outputMode(result) });
      if (args.control_log_dir) {
        const path = await writeControlLog(args.control_log_dir, [controlLogEntryFor(result.chains, result.apid!, result.stage)]);
        println(`CONTROL_LOG: ${path}`);
      }
    });
  },
});

/**
 * Every output path checked before the first HSM command: a run that cannot write its result
 * must not spend a DAK signature (each counts against the DAK's lifetime limit).
 */
function checkOutputs(o: { output?: string; outDir?: string; controlLogDir?: string; createControlLogDir?: boolean }): void {
  if (o.output !== undefined) checkOutputPath(o.output, { replace: true });
  if (o.outDir !== undefined) checkDirectory(o.outDir, "-o", { create: true });
  if (o.controlLogDir !== undefined) checkDirectory(o.controlLogDir, "--control_log_dir", { create: o.createControlLogDir ?? false });
}

type SignerCliArgs = Parameters<typeof openSigner>[0];

async function withSigner<T>(args: SignerCliArgs, use: (signer: Awaited<ReturnType<typeof openSigner>>) => Promise<T>): Promise<T> {
  const signer = await openSigner(args);
  try {
    return await use(signer);
  } finally {
    await signer.close();
  }
}

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}
