// The `cert` shell commands of the Factory Diagnostic Firmware, simulated line for line after
// samples/sid_end_device/src/cli/sid_on_dev_cert_cli.c in sdk-sidewalk: the same argument
// counts, the same checks on pieces (1..BASE64_MTU characters), the same streaming base64
// buffers that persist between commands, and the same `{CERT ...}` answers.
import type { Curve } from "../../sidewalk/curves.ts";
import { SID_ERRORS } from "../protocol/sid-errors.ts";
import { base64Pieces, Base64Sink } from "./base64.ts";
import { chainSizeLimits, OnDeviceCertLibrary } from "./firmware.ts";

export const BASE64_MTU = 32;
const DEV_TYPE_SUFFIX = "-PRODUCTION";
const APP_KEY_SIZE = 32;

export interface OutputLine {
  level: "info" | "warn" | "error";
  text: string;
}

/** Argument counts as registered with SHELL_CMD_ARG (mandatory including the name, optional). */
const COMMANDS: Record<string, [number, number]> = {
  init: [1, 0],
  deinit: [1, 0],
  smsn: [4, 1],
  csr: [2, 0],
  "chain start": [2, 0],
  "chain write": [2, 0],
  "chain commit": [1, 0],
  "app_key start": [1, 0],
  "app_key write": [2, 0],
  "app_key commit": [1, 0],
  store: [1, 0],
};

const CURVE_ARGS: Record<string, Curve> = { ed25519: "ed25519", p256r1: "p256r1" };

export class CertCli {
  readonly lib = new OnDeviceCertLibrary();
  private chain: { curve: Curve; sink: Base64Sink } | undefined;
  private appKey: Base64Sink | undefined;

  /** Runs `cert ...` (argv without the leading `cert`); returns what the shell prints. */
  run(argv: string[]): OutputLine[] {
    const group = argv[0] === "chain" || argv[0] === "app_key" ? 2 : 1;
    const name = argv.slice(0, group).join(" ");
    const spec = COMMANDS[name];
    if (!spec) {
      if (argv.length === 0) return [{ level: "error", text: "cert: wrong parameter count" }];
      return [{ level: "error", text: `cert: unknown parameter: ${argv[group - 1] ?? argv[0]}` }];
    }
    const args = argv.slice(group);
    const argc = args.length + 1;
    if (argc < spec[0] || argc > spec[0] + spec[1]) return [{ level: "error", text: `cert ${name}: wrong parameter count` }];
    const out: OutputLine[] = [];
    const info = (text: string) => out.push({ level: "info", text });
    const result = (code: number) => info(code === SID_ERRORS.NONE ? "{CERT OK}" : `{CERT ERROR ${code}}`);
    const printBase64 = (data: Uint8Array) => base64Pieces(data, BASE64_MTU).forEach((p) => info(`{CERT <${p}>}`));
    switch (name) {
      case "init":
        this.lib.init();
        info(`{CERT BASE64_MTU=${BASE64_MTU}}`);
        result(SID_ERRORS.NONE);
        break;
      case "deinit":
        this.lib.deinit();
        result(SID_ERRORS.NONE);
        break;
      case "smsn": {
        const r = this.lib.generateSmsn(args[0]! + DEV_TYPE_SUFFIX, args[1]!, args[2]!, args[3]);
        if (r.smsn) printBase64(r.smsn);
        result(r.code);
        break;
      }
      case "csr": {
        const curve = CURVE_ARGS[args[0]!];
        if (!curve) {
          result(SID_ERRORS.INVALID_ARGS);
          break;
        }
        const r = this.lib.generateCsr(curve);
        if (r.csr) printBase64(r.csr);
        result(r.code);
        break;
      }
      case "chain start": {
        const curve = CURVE_ARGS[args[0]!];
        if (!curve) {
          result(SID_ERRORS.INVALID_ARGS);
          break;
        }
        this.chain = { curve, sink: new Base64Sink(chainSizeLimits(curve).max) };
        result(SID_ERRORS.NONE);
        break;
      }
      case "chain write":
        result(this.writePiece(args[0]!, this.chain?.sink, () => (this.chain = undefined)));
        break;
      case "chain commit": {
        if (!this.chain) {
          result(SID_ERRORS.UNINITIALIZED);
          break;
        }
        const { curve, sink } = this.chain;
        this.chain = undefined;
        result(this.lib.writeCertChain(curve, sink.data));
        break;
      }
      case "app_key start":
        this.appKey = new Base64Sink(APP_KEY_SIZE);
        result(SID_ERRORS.NONE);
        break;
      case "app_key write":
        result(this.writePiece(args[0]!, this.appKey, () => (this.appKey = undefined)));
        break;
      case "app_key commit": {
        const sink = this.appKey;
        // The CLI resets its buffer whatever the outcome.
        this.appKey = undefined;
        if (!sink || sink.totalOut !== APP_KEY_SIZE || sink.availOut !== 0) result(SID_ERRORS.UNINITIALIZED);
        else result(this.lib.writeAppServerKey(sink.data));
        break;
      }
      case "store":
        result(this.lib.verifyAndStore());
        break;
    }
    return out;
  }

  /** One base64 piece into a buffer; a bad piece drops the buffer (`reset`). */
  private writePiece(piece: string, sink: Base64Sink | undefined, reset: () => void): number {
    if (piece.length < 1 || piece.length > BASE64_MTU) return SID_ERRORS.PARAM_OUT_OF_RANGE;
    if (!sink) return SID_ERRORS.UNINITIALIZED;
    const left = sink.decode(piece);
    if (left !== 0 || (sink.availOut === 0 && sink.tempLen >= 8)) {
      reset();
      return SID_ERRORS.INVALID_ARGS;
    }
    return SID_ERRORS.NONE;
  }
}

