// swtool pki: the networked setup's local signing authority. `init` (on the signing server)
// writes ca.pem/ca.key, server.pem/server.key and nginx.conf; `client` issues one line PC's
// client certificate bundle (client.pem, client.key, ca.pem).
import { defineCommand } from "citty";
import { DEFAULT_LISTEN_PORT, DEFAULT_UPSTREAM, DEFAULTS, initAuthority, issueClient } from "../pki/index.ts";
import { KEY_ALGORITHMS, parseKeyAlgorithm } from "../x509/keys.ts";
import { printResult, println } from "./output.ts";
import { connectorArgs, daysArg, pinArgs, wholeNumberArg } from "./args.ts";
import { isHsmKey, openCaSigner } from "./ca-key.ts";

/** The CA key in the YubiHSM instead of ca.key: `--ca-key hsm:<id>` with the HSM flags. */
const caKeyArgs = {
  "ca-key": { type: "string", description: "hsm:<object id>: the CA's P-256 key is held in the YubiHSM (no ca.key is written or read)" },
  ...connectorArgs,
  ...pinArgs,
} as const;

const algorithms = KEY_ALGORITHMS.join(" | ");

const init = defineCommand({
  meta: { name: "init", description: "Create the signing server's CA, server certificate and nginx.conf" },
  args: {
    out: { type: "string", description: "Directory to write (created; existing files are never overwritten without --force)", required: true },
    "server-name": { type: "string", description: "DNS name(s) and/or IP address(es) line PCs use to reach the server, comma-separated", required: true },
    "key-algorithm": { type: "string", description: `${algorithms}`, default: DEFAULTS.keyAlgorithm },
    "ca-days": { type: "string", description: "CA validity in days", default: String(DEFAULTS.caDays) },
    "server-days": { type: "string", description: "Server certificate validity in days", default: String(DEFAULTS.serverDays) },
    "ca-name": { type: "string", description: "CA common name", default: DEFAULTS.caName },
    organization: { type: "string", description: "Organization (O) in every subject" },
    "listen-port": { type: "string", description: "Port nginx listens on", default: String(DEFAULT_LISTEN_PORT) },
    upstream: { type: "string", description: "yubihsm-connector address nginx proxies to", default: DEFAULT_UPSTREAM },
    "cert-dir": { type: "string", description: "Directory nginx.conf refers to for the files (default: the absolute --out path)" },
    force: { type: "boolean", description: "Overwrite existing files (invalidates every client certificate of the old CA)" },
    ...caKeyArgs,
  },
  async run({ args }) {
    const hsm = isHsmKey(args["ca-key"]) ? await openCaSigner(args["ca-key"], args) : undefined;
    const result = await initAuthority({
      ...(hsm ? { caSigner: hsm.signer } : {}),
      out: args.out,
      serverNames: ([] as string[]).concat(args["server-name"]),
      keyAlgorithm: parseKeyAlgorithm(args["key-algorithm"]),
      caDays: daysArg(args["ca-days"], "ca-days"),
      serverDays: daysArg(args["server-days"], "server-days"),
      caName: args["ca-name"],
      ...(args.organization ? { organization: args.organization } : {}),
      listenPort: wholeNumberArg(args["listen-port"], "listen-port"),
      upstream: args.upstream,
      ...(args["cert-dir"] ? { certDir: args["cert-dir"] } : {}),
      force: args.force ?? false,
    }).finally(() => hsm?.close());
    printResult(result, () => {
      const caKey = hsm ? `key ${result.ca.keyPath}, never leaves the HSM` : `key ${result.ca.keyPath}, ${result.ca.keyProtection?.description}; keep it on this server only`;
      println(`CA:          ${result.ca.path} (${caKey})`);
      println(`             expires ${result.ca.notAfter}, SHA-256 ${result.ca.sha256}`);
      println(`server:      ${result.server.path} (key ${result.server.keyPath}, ${result.server.keyProtection?.description}) for ${[...result.server.dnsNames, ...result.server.ipAddresses].join(", ")}`);
      println(`             expires ${result.server.notAfter}`);
      println(`nginx.conf:  ${result.nginxConf}`);
      println(`next: swtool pki client --ca ${result.dir} --name LINEPC-01${hsm ? ` --ca-key ${args["ca-key"]}` : ""}`);
    });
  },
});

const client = defineCommand({
  meta: { name: "client", description: "Issue a line PC's client certificate and key (clientAuth)" },
  args: {
    ca: { type: "string", description: "The directory `swtool pki init` wrote (holds ca.pem and ca.key)", required: true },
    name: { type: "string", description: "Line PC name, the certificate's common name (e.g. LINEPC-07)", required: true },
    out: { type: "string", description: "Bundle directory (default: <ca>/clients/<name>)" },
    "key-algorithm": { type: "string", description: `${algorithms}`, default: DEFAULTS.keyAlgorithm },
    days: { type: "string", description: "Validity in days", default: String(DEFAULTS.clientDays) },
    organization: { type: "string", description: "Organization (O) in the subject" },
    force: { type: "boolean", description: "Overwrite an existing bundle" },
    ...caKeyArgs,
  },
  async run({ args }) {
    const hsm = isHsmKey(args["ca-key"]) ? await openCaSigner(args["ca-key"], args) : undefined;
    const result = await issueClient({
      ...(hsm ? { caSigner: hsm.signer } : {}),
      caDir: args.ca,
      name: args.name,
      ...(args.out ? { out: args.out } : {}),
      keyAlgorithm: parseKeyAlgorithm(args["key-algorithm"]),
      days: daysArg(args.days, "days"),
      ...(args.organization ? { organization: args.organization } : {}),
      force: args.force ?? false,
    }).finally(() => hsm?.close());
    printResult(result, () => {
      println(`client:  ${result.client.path} (CN=${result.client.subject}, expires ${result.client.notAfter})`);
      println(`key:     ${result.client.keyPath} (${result.client.keyProtection?.description})`);
      println(`CA:      ${result.caPem}`);
      println(`copy ${result.dir} to the line PC and sign with --ca_cert ca.pem --client_cert client.pem --client_key client.key`);
    });
  },
});

export default defineCommand({
  meta: { name: "pki", description: "Local signing authority for the networked (nginx mutual TLS) setup" },
  subCommands: { init, client },
});
