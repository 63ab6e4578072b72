// The YubiHSM 2 library: client, sessions, commands and the simulator. It knows nothing of
// Sidewalk; the Sidewalk signer on top of it is src/signer/hsm/.
export { HsmClient, openAuthenticatedClient, type HsmClientOptions } from "./client.ts";
export { startHsmSimulator, type HsmSimulator, type HsmSimulatorOptions } from "./simulator/server.ts";
export { HsmConnectionError, HsmDeviceError, HsmPinRejectedError, HsmProtocolError } from "./errors.ts";
export { SecureChannelError } from "./secure-channel.ts";
