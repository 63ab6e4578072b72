// The swtool command tree. Each sub-command lives in its own file and is loaded on use.
import { defineCommand } from "citty";
import pkg from "../../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

export const main = defineCommand({
  meta: { name: "swtool", version: VERSION, description: "Amazon Sidewalk manufacturing line toolkit" },
  subCommands: {
    smsn: () => import("./smsn.ts").then((m) => m.default),
    csr: () => import("./csr.ts").then((m) => m.default),
    verify: () => import("./verify.ts").then((m) => m.default),
    keygen: () => import("./keygen.ts").then((m) => m.default),
    sign: () => import("./sign/index.ts").then((m) => m.default),
    demo: () => import("./demo.ts").then((m) => m.default),
    x509: () => import("./x509.ts").then((m) => m.default),
    pki: () => import("./pki.ts").then((m) => m.default),
    mfg: () => import("./mfg.ts").then((m) => m.default),
    consolidate: () => import("./consolidate.ts").then((m) => m.default),
    upload: () => import("./upload.ts").then((m) => m.default),
    feedback: () => import("./feedback.ts").then((m) => m.default),
    "import-csv": () => import("./import-csv.ts").then((m) => m.default),
    hsm: () => import("./hsm.ts").then((m) => m.default),
    device: () => import("./device.ts").then((m) => m.default),
    ports: () => import("./ports.ts").then((m) => m.default),
    ledger: () => import("./ledger.ts").then((m) => m.default),
  },
});
