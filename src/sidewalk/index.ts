// The Sidewalk core: pure functions over bytes (SMSN, CSR, certificates, chains, roots).
export * from "../lib/bytes.ts"; // the byte helpers, re-exported for callers of the Sidewalk core
export * from "./curves.ts";
export * from "./smsn.ts";
export * from "./csr.ts";
export * from "./chain.ts";
export * from "./roots.ts";
export * from "./pki.ts";
export * from "./signer.ts";
