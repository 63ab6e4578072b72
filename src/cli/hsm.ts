// swtool hsm info | simulate | load-test-chain: look into a YubiHSM 2, run the wire-exact HSM
// simulator, and program a blank HSM with a test chain for rehearsing a line.
import { defineCommand } from "citty";
import { UsageError } from "../lib/errors.ts";
import { closeAllHsmClients, openAuthenticatedClient } from "../hsm/client.ts";
import { deviceInfo, versionString } from "../hsm/commands/device-info.ts";
import { sendPlain } from "../hsm/session.ts";
import { inventory, type Inventory } from "../signer/hsm/inventory.ts";
import { authSlotsFor } from "../signer/hsm/layout.ts";
import { loadTestChain, type TestLayout } from "../signer/hsm/loadchain.ts";
import { productPkiFor } from "../signer/hsm/product-pki.ts";
import { isLoopback, Connector } from "../hsm/transport.ts";
import { startHsmSimulator } from "../hsm/simulator/server.ts";
import { toHex } from "../lib/bytes.ts";
import { CURVES, CURVE_NAMES } from "../sidewalk/curves.ts";
import { connectorArgs, decimalArg, pinArgs } from "./args.ts";
import { emitEvent, log, output, printResult, println } from "./output.ts";
import { connectorOf, pinSlotOf, resolvePin } from "./pin.ts";

/** Ctrl-C closes the HSM sessions on the device before leaving. */
function closeSessionsOnInterrupt(): void {
  process.once("SIGINT", () => {
    void closeAllHsmClients().finally(() => process.exit(130));
  });
}

const info = defineCommand({
  meta: { name: "info", description: "Serial, firmware, free slots, objects and Sidewalk products of an HSM" },
  args: { ...connectorArgs, ...pinArgs },
  async run({ args }) {
    closeSessionsOnInterrupt();
    const c = connectorOf(args);
    const connector = new Connector({ url: c.connector, tls: c.tls, allowInsecureConnector: c.allowInsecureConnector });
    const status = await connector.status();
    const pin = await resolvePin(args, { required: false });
    const client = pin === undefined ? undefined : await openAuthenticatedClient(connector, pin, authSlotsFor(undefined, pinSlotOf(args)));
    try {
      const device = await sendPlain(connector, deviceInfo, undefined);
      const inv: Inventory | undefined = client ? await inventory(client) : undefined;
      const data = {
        connector: { url: connector.url.origin, version: status.version },
        device: { serial: device.serial, firmware: versionString(device) },
        authKeySlot: client?.authKeyId,
        ...(inv ?? {}),
      };
      printResult(data, () => {
        println(`connector    ${connector.url.origin} (yubihsm-connector ${status.version})`);
        println(`serial       ${device.serial}`);
        println(`firmware     ${versionString(device)}`);
        if (!inv) {
          println("objects      not shown: no PIN given (use --pin-env, --pin-file or a terminal)");
          return;
        }
        const s = inv.storage;
        println(`free slots   ${s.freeRecords} of ${s.totalRecords} objects, ${s.freePages} of ${s.totalPages} pages`);
        println(`key slot     ${client!.authKeyId}`);
        println(`layout       ${inv.layout ?? `unreadable: ${inv.layoutProblem}`}${inv.toolreq ? ` (toolreq ${inv.toolreq})` : ""}`);
        println(`objects (${inv.objects.length}):`);
        for (const o of inv.objects) println(`  ${o.id}  ${o.type.padEnd(18)} ${o.algorithm.padEnd(28)} ${String(o.size).padStart(5)}  ${o.label}`);
        println(`products (${inv.products.length}):`);
        for (const p of inv.products) {
          const root = p.amazonRoot ? (CURVE_NAMES.every((c) => p.amazonRoot![c]) ? "Amazon root" : "NOT Amazon's root (test chain)") : "";
          println(`  ${p.productTag}: ${p.verifies ? "chain complete and verifies" : p.complete ? "chain complete but does NOT verify" : "chain INCOMPLETE"}${root ? `, ${root}` : ""}`);
          if (p.problem) println(`    ${p.problem}`);
        }
      });
      if (inv && inv.products.some((p) => !p.verifies)) process.exitCode = 1;
    } finally {
      await client?.close();
    }
  },
});

const simulate = defineCommand({
  meta: { name: "simulate", description: "Run a YubiHSM 2 simulator behind a yubihsm-connector HTTP API" },
  args: {
    listen: { type: "string", description: "host:port to listen on", default: "127.0.0.1:12345" },
    state: { type: "string", description: "JSON file keeping the objects across restarts (written atomically)" },
    latency: { type: "string", description: "none, or yubihsm2 for a real device's timing", default: "none" },
    "session-timeout": { type: "string", description: "Idle session timeout in seconds (device: 30)" },
  },
  async run({ args }) {
    const latency = args.latency;
    if (latency !== "none" && latency !== "yubihsm2") throw new UsageError(`--latency ${JSON.stringify(latency)} is not known`, { advice: "use --latency none or --latency yubihsm2" });
    const seconds = decimalArg(args["session-timeout"], "session-timeout", { above: 0 });
    const idleTimeoutMs = seconds === undefined ? undefined : seconds * 1000;
    const sim = await startHsmSimulator({
      listen: args.listen,
      latency,
      ...(args.state ? { statePath: args.state } : {}),
      ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
      ...(output.verbose ? { log: (line: string) => log.info(line) } : {}),
    });
    const host = new URL(sim.url).hostname.replace(/^\[|\]$/g, "");
    if (!isLoopback(host)) log.warn("the simulator listens beyond this machine; its factory key has the well-known password \"password\"");
    if (output.json) emitEvent({ type: "ready", url: sim.url, serial: sim.device.state.serial, latency, state: args.state ?? null });
    else println(`HSM simulator (serial ${sim.device.state.serial}, latency ${latency}) listening on ${sim.url}${args.state ? `, state in ${args.state}` : ""}; Ctrl-C stops it`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await sim.stop();
    if (!output.json) log.info("simulator stopped");
  },
});

const loadTestChainCommand = defineCommand({
  meta: { name: "load-test-chain", description: "Program a blank HSM with a freshly generated test chain (not Amazon's root)" },
  args: {
    ...connectorArgs,
    ...pinArgs,
    product: { type: "string", alias: "p", description: "Product tag, e.g. RNET_DAK_DEMO", required: true },
    layout: { type: "string", description: "long (default), chain-depth or legacy", default: "long" },
    toolreq: { type: "string", description: "toolreq written to HSM_INFO (default 1.1)" },
    "product-pki": { type: "string", description: "Keep the test product's PKI in FILE (made if new, 0600): each HSM loaded with the same FILE gets a DAK of one product, as a factory's HSMs are" },
  },
  async run({ args }) {
    closeSessionsOnInterrupt();
    const layout = args.layout as TestLayout;
    if (!["long", "chain-depth", "legacy"].includes(layout)) throw new UsageError(`--layout ${JSON.stringify(args.layout)} is not known`, { advice: "use long, chain-depth or legacy" });
    if (args["product-pki"] !== undefined && layout === "legacy") throw new UsageError("--product-pki works with the long and chain-depth layouts", { advice: "leave out --layout legacy, or --product-pki" });
    if (args["product-pki"] === "") throw new UsageError("--product-pki needs a file name", { advice: "e.g. --product-pki rehearsal-product.json" });
    const pin = (await resolvePin(args))!;
    const c = connectorOf(args);
    const slot = pinSlotOf(args);
    const product = args["product-pki"] !== undefined ? productPkiFor(args["product-pki"]) : undefined;
    if (product?.created) log.info(`made a test product PKI in ${args["product-pki"]} (0600; test root, not Amazon's): load the next HSM with the same file`);
    const loaded = await loadTestChain({
      ...(product ? { pki: product.pki } : {}),
      ...c,
      productTag: args.product,
      pin,
      layout,
      ...(slot !== undefined ? { pinSlot: slot } : {}),
      ...(args.toolreq ? { toolreq: args.toolreq } : {}),
    });
    const roots = Object.fromEntries(CURVE_NAMES.map((curve) => [curve, { serial: toHex(loaded.roots[curve].serial), publicKey: toHex(loaded.roots[curve].publicKey) }]));
    printResult({ ok: true, ...loaded, roots }, () => {
      println(`loaded a ${loaded.layout}-layout test chain for ${loaded.productTag} (${loaded.stage}) on HSM ${loaded.hsmSerial}: ${loaded.objectsWritten} objects`);
      println(`the PIN opens authentication key slot ${loaded.authKeyId}`);
      for (const curve of CURVE_NAMES) println(`${CURVES[curve].display.padEnd(8)} test root serial ${toHex(loaded.roots[curve].serial)}`);
      println("its root is a test root, NOT Amazon's: chains it signs are for rehearsal only");
    });
  },
});

export default defineCommand({
  meta: { name: "hsm", description: "YubiHSM 2: inspect, simulate, load a test chain" },
  subCommands: { info, simulate, "load-test-chain": loadTestChainCommand },
});
