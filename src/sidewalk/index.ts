// The Sidewalk core: pure functions over bytes (SMSN, CSR, certificates, chains, roots).
export * from "./bytes.ts";
export * from "./curves.ts";
export * from "./smsn.ts";
export * from "./csr.ts";
export * from "./chain.ts";
export * from "./roots.ts";
export * from "./pki.ts";
export * from "./signer.ts";
