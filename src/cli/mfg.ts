// swtool mfg: the legacy flow's manufacturing page, as Nordic's provision.py makes it (TLV
// version 8 by default, fixed offsets from a config file), and a decoder that shows every
// value of a page and checks its chains and keys.
import { defineCommand } from "citty";
import { mkdirSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { appServerKey, buildBatch, buildFromFiles, checkPage, decodePage, loadLayout, NORDIC_DEFAULT_ADDRESS, readAppServerKeyArg, readPageFile, TLV_LAYOUT, LEGACY_LAYOUT, type DecodedField } from "../mfg/index.ts";
import { toHex } from "../lib/bytes.ts";
import { printResult, println } from "./output.ts";

function address(text: string | undefined): number {
  if (text === undefined) return NORDIC_DEFAULT_ADDRESS;
  const t = text.trim();
  const n = /^0x[0-9a-f]+$/i.test(t) ? parseInt(t, 16) : /^\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError(`--addr ${JSON.stringify(text)} is not an address`, { advice: "give it in hex (0xFD000) or decimal" });
  return n;
}

const hex2 = (n: number) => `0x${n.toString(16).toUpperCase()}`;

const build = defineCommand({
  meta: { name: "build", description: "Make a device's manufacturing page (.bin and/or Intel HEX) from its signing output" },
  args: {
    input: { type: "positional", description: "Signing output JSON with the device private keys (swtool sign, sid_signing_tool, console certificate JSON)", required: false },
    "certificate-json": { type: "string", description: "The same input as a flag, as provision.py spells it (--json of provision.py's acs mode is the same file)" },
    "wireless-device-json": { type: "string", description: "`aws iotwireless get-wireless-device` response (with --device_profile_json)" },
    "device-profile-json": { type: "string", description: "`aws iotwireless get-device-profile` response" },
    "app-srv-pub": { type: "string", description: "Application server public key: 64 hex digits or a file of its 32 bytes (when the input lacks it)" },
    config: { type: "string", description: "Page layout config (YAML or JSON, as provision.py's config.yaml); default: TLV version 8" },
    "output-bin": { type: "string", description: "Page file to write (an existing page there is merged, as provision.py does)" },
    "output-hex": { type: "string", description: "Intel HEX file to write" },
    addr: { type: "string", description: `Flash address of the page in the HEX file (default ${hex2(NORDIC_DEFAULT_ADDRESS)}, nRF52840)` },
    "from-dir": { type: "string", description: "Batch: one page per signing-output JSON in this directory" },
    "out-dir": { type: "string", description: "Batch: where <name>.bin and <name>.hex go (default: --from-dir)" },
    formats: { type: "string", description: "Batch: bin,hex (default both)" },
  },
  run({ args }) {
    const layout = args.config ? loadLayout(args.config) : TLV_LAYOUT;
    const appKey = args["app-srv-pub"] !== undefined ? appServerKey(readAppServerKeyArg(args["app-srv-pub"]), "--app_srv_pub") : undefined;
    const addr = address(args.addr);
    if (args["from-dir"]) {
      if (args.input || args["certificate-json"] || args["wireless-device-json"] || args["output-bin"] || args["output-hex"]) {
        throw new UsageError("--from-dir makes one page per file; it does not combine with an input file, --wireless_device_json, --output_bin or --output_hex", { advice: "use --out-dir for where the pages go" });
      }
      const formats = (args.formats ?? "bin,hex").split(",").map((f) => f.trim().toLowerCase());
      if (formats.length === 0 || formats.some((f) => f !== "bin" && f !== "hex")) throw new UsageError(`--formats ${JSON.stringify(args.formats)}: use bin, hex or bin,hex`);
      const outDir = args["out-dir"] ?? args["from-dir"];
      mkdirSync(outDir, { recursive: true });
      const result = buildBatch({ dir: args["from-dir"], outDir, ...(appKey ? { appServerKey: appKey } : {}), layout, address: addr, formats: formats as ("bin" | "hex")[] });
      printResult({ ok: result.failed.length === 0, ...result }, () => {
        for (const b of result.built) println(`ok      ${b.source} -> ${[b.outputBin, b.outputHex].filter(Boolean).join(", ")} (SMSN ${b.smsn})`);
        for (const s of result.skipped) println(`skipped ${s.file}: ${s.reason}`);
        for (const f of result.failed) println(`FAILED  ${f.file}: ${f.error}${f.advice ? ` (fix: ${f.advice})` : ""}`);
        println(`${result.built.length} built, ${result.failed.length} failed, ${result.skipped.length} skipped`);
      });
      if (result.failed.length) process.exitCode = 1;
      return;
    }
    if (args.input && args["certificate-json"]) throw new UsageError("give the signing output once: as the argument or as --certificate_json");
    const json = args.input || args["certificate-json"];
    const result = buildFromFiles({
      inputs: {
        ...(json ? { json } : {}),
        ...(args["wireless-device-json"] ? { wirelessDeviceJson: args["wireless-device-json"] } : {}),
        ...(args["device-profile-json"] ? { deviceProfileJson: args["device-profile-json"] } : {}),
      },
      ...(appKey ? { appServerKey: appKey } : {}),
      layout,
      address: addr,
      ...(args["output-bin"] ? { outputBin: args["output-bin"] } : {}),
      ...(args["output-hex"] ? { outputHex: args["output-hex"] } : {}),
    });
    printResult(result, () => {
      println(`page:    ${result.layout === "tlv" ? "TLV" : "fixed offsets"}, version ${result.version}, ${result.size} bytes (SMSN ${result.smsn}, APID ${result.apid})`);
      if (!result.production) println("chains:  verify, but end at a test root (not Amazon's production root)");
      if (result.outputBin) println(`bin:     ${result.outputBin}${result.merged ? " (merged into the existing page)" : ""}`);
      if (result.outputHex) println(`hex:     ${result.outputHex} at ${hex2(result.address)}`);
    });
  },
});

function shown(f: DecodedField): string {
  if (f.name === "MAGIC" || f.name === "APID") return `${JSON.stringify(new TextDecoder("latin1").decode(f.value))} (${toHex(f.value)})`;
  if (f.name === "VERSION") return `${f.value.reduce((a, b) => a * 256 + b, 0)} (${toHex(f.value)})`;
  return toHex(f.value);
}

const decode = defineCommand({
  meta: { name: "decode", description: "Show every value of a manufacturing page (.bin or Intel HEX), verify its chains and keys" },
  args: {
    file: { type: "positional", description: "Page file (.bin) or Intel HEX", required: true },
    config: { type: "string", description: "Fixed-offset layout for version 1-7 pages (default: provision.py's config_legacy.yaml)" },
    "expect-root": { type: "string", description: "amazon: also fail a page whose chains do not end at Amazon's production root" },
    "show-private-keys": { type: "boolean", description: "Print the device private keys (hidden by default)" },
  },
  run({ args }) {
    const expect = args["expect-root"];
    if (expect !== undefined && expect !== "amazon" && expect !== "any") throw new UsageError(`--expect-root ${JSON.stringify(expect)} is not known`, { advice: "use --expect-root amazon" });
    const file = readPageFile(args.file);
    const page = decodePage(file.data, args.config ? loadLayout(args.config) : LEGACY_LAYOUT);
    const report = checkPage(page);
    if (expect === "amazon") {
      for (const [curve, r] of Object.entries(report.curves)) {
        report.checks.push({ check: `${curve} root`, ok: r.amazonRoot, detail: r.amazonRoot ? "Amazon production root" : "NOT Amazon's production root" });
      }
      report.ok = report.checks.every((c) => c.ok);
    }
    const hide = (f: DecodedField) => f.name.startsWith("DEVICE_PRIV_") && !args["show-private-keys"];
    const fields = page.fields.map((f) => ({ id: f.id, name: f.name, offset: f.offset, length: f.value.length, value: hide(f) ? null : toHex(f.value) }));
    printResult({ ok: report.ok, file: args.file, format: file.format, ...(file.address !== undefined ? { address: file.address } : {}), layout: page.kind, version: page.version, length: page.length, fields, checks: report.checks, curves: report.curves }, () => {
      println(`${args.file}: ${file.format === "hex" ? `Intel HEX at ${hex2(file.address!)}, ` : ""}${page.kind === "tlv" ? "TLV" : "fixed-offset"} page version ${page.version}, ${page.length} bytes`);
      for (const f of page.fields) println(`  ${String(f.id).padStart(4)} ${f.name.padEnd(31)} @${String(f.offset).padStart(5)} ${String(f.value.length).padStart(3)}B  ${hide(f) ? "(private key hidden; --show-private-keys)" : shown(f)}`);
      for (const c of report.checks) println(`${c.ok ? "ok    " : "FAILED"} ${c.check}: ${c.detail}`);
      println(report.ok ? "OK" : "FAILED");
    });
    if (!report.ok) process.exitCode = 1;
  },
});

export default defineCommand({
  meta: { name: "mfg", description: "Manufacturing pages of the legacy flow (Nordic provision.py format)" },
  subCommands: { build, decode },
});
