// The YubiHSM 2 module: client, Sidewalk certificate store, test-chain loader and simulator.
export { HsmClient, type HsmClientOptions } from "./client.ts";
export { HsmCertStore, openCertStore, type CertStoreOptions } from "./certstore.ts";
export { loadTestChain, type LoadTestChainOptions, type LoadedTestChain } from "./loadchain.ts";
export { startHsmSimulator, type HsmSimulator, type HsmSimulatorOptions } from "./simulator/server.ts";
export { HsmConnectionError, HsmDeviceError, HsmPinRejectedError, HsmProtocolError } from "./errors.ts";
export { SecureChannelError } from "./secure-channel.ts";
export { stageOfProductTag, SIGNING_TOOL_COMPAT_VERSION } from "./layout.ts";
