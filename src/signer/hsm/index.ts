// The Sidewalk signer on a YubiHSM 2: Amazon's object layout, the certificate store that signs
// with the DAK, the test-chain loader for rehearsals, and the inventory `swtool hsm info` prints.
export { HsmCertStore, openCertStore, type CertStoreOptions } from "./certstore.ts";
export { loadTestChain, type LoadTestChainOptions, type LoadedTestChain } from "./loadchain.ts";
export { SIGNING_TOOL_COMPAT_VERSION } from "./layout.ts";
