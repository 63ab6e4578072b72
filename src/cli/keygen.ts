// swtool keygen: device key files for the legacy PEM-key flow, in the formats of the guide's
// OpenSSL commands (readable by `openssl pkey`), written 0600 and never over an existing file.
import { defineCommand } from "citty";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { exactName, publishFileSync } from "../lib/atomic.ts";
import { generateKeyPem } from "../sign/keys.ts";
import { log, printResult, println } from "./output.ts";
import { wholeNumberArg } from "./args.ts";

export default defineCommand({
  meta: { name: "keygen", description: "Generate Ed25519 and P-256 device key files (legacy PEM-key flow)" },
  args: {
    "out-dir": { type: "string", description: "Directory for the key files (created if missing)", required: true },
    count: { type: "string", description: "How many devices' key pairs", default: "1" },
    prefix: { type: "string", description: "File name prefix", default: "device" },
  },
  run({ args }) {
    const count = wholeNumberArg(args.count, "count", { min: 1, max: 1_000_000 })!;
    mkdirSync(args["out-dir"], { recursive: true, mode: 0o700 });
    const width = String(count).length;
    const files: { ed25519: string; p256r1: string }[] = [];
    for (let i = 1; i <= count; i++) {
      const stem = count === 1 ? args.prefix : `${args.prefix}-${String(i).padStart(width, "0")}`;
      const write = (suffix: string, pem: string) => {
        const path = join(args["out-dir"], `${stem}_${suffix}.pem`);
        return publishFileSync(args["out-dir"], exactName(path), pem, 0o600);
      };
      files.push({ ed25519: write("ed25519", generateKeyPem("ed25519")), p256r1: write("p256r1", generateKeyPem("p256r1")) });
    }
    log.debug(`wrote ${files.length * 2} key files`);
    printResult({ files }, () => files.forEach((f) => println(`${f.ed25519}\n${f.p256r1}`)));
  },
});
