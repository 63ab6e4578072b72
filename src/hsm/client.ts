// The YubiHSM 2 client: a flat list of one-line methods, each one command, over a connector
// and a pool of authenticated sessions. Device info needs no session.
import type { NewObject } from "./commands/command.ts";
import { deleteObject } from "./commands/delete-object.ts";
import { deviceInfo, type DeviceInfo } from "./commands/device-info.ts";
import { echo } from "./commands/echo.ts";
import { generateAsymmetricKey } from "./commands/generate-asymmetric-key.ts";
import { getObjectInfo, type ObjectInfo } from "./commands/get-object-info.ts";
import { getOpaque } from "./commands/get-opaque.ts";
import { getPseudoRandom } from "./commands/get-pseudo-random.ts";
import { getPublicKey, type PublicKey } from "./commands/get-public-key.ts";
import { getStorageInfo, type StorageInfo } from "./commands/get-storage-info.ts";
import { listObjects, type ListFilter, type ObjectRef } from "./commands/list-objects.ts";
import { putAsymmetricKey } from "./commands/put-asymmetric-key.ts";
import { putAuthenticationKey } from "./commands/put-authentication-key.ts";
import { putOpaque } from "./commands/put-opaque.ts";
import { derToRaw, signEcdsa } from "./commands/sign-ecdsa.ts";
import { signEddsa } from "./commands/sign-eddsa.ts";
import { DEVICE_ERROR, HsmDeviceError, isDeviceError } from "./errors.ts";
import { SessionPool } from "./pool.ts";
import { hex16, OBJECT_TYPE_NAMES } from "./protocol.ts";
import { deriveAuthKey, type AuthKey } from "./secure-channel.ts";
import { sendPlain } from "./session.ts";
import { Connector, type ConnectorOptions, type ConnectorStatus } from "./transport.ts";

export interface HsmClientOptions extends ConnectorOptions {
  /** Authentication key slot. */
  authKeyId: number;
  /** The password (PIN) the authentication key was derived from. */
  password: string;
  /** Sessions to open at most (1..16). */
  sessions?: number;
}

/** Clients with sessions open, so an interrupted command can still close them on the device. */
const openClients = new Set<HsmClient>();

/** Closes the sessions of every open client (Ctrl-C, fatal errors). */
export async function closeAllHsmClients(): Promise<void> {
  await Promise.allSettled([...openClients].map((c) => c.close()));
}

const obj = (id: number, type: number) => `${OBJECT_TYPE_NAMES[type] ?? `type ${type}`} ${hex16(id)}`;

export class HsmClient {
  private constructor(
    readonly connector: Connector,
    readonly connectorStatus: ConnectorStatus,
    private readonly pool: SessionPool,
  ) {}

  /** Checks the connector, then opens the first session (wrong PIN or slot fails here). */
  static async connect(options: HsmClientOptions): Promise<HsmClient> {
    const connector = new Connector(options);
    const status = await connector.status();
    return HsmClient.open(connector, status, options.authKeyId, deriveAuthKey(options.password), options.sessions ?? 1);
  }

  static over(connector: Connector, status: ConnectorStatus, authKeyId: number, authKey: AuthKey, sessions = 1): HsmClient {
    return new HsmClient(connector, status, new SessionPool(connector, authKeyId, authKey, sessions));
  }

  /** Like `over`, with the first session opened at once. */
  static async open(connector: Connector, status: ConnectorStatus, authKeyId: number, authKey: AuthKey, sessions = 1): Promise<HsmClient> {
    const client = HsmClient.over(connector, status, authKeyId, authKey, sessions);
    openClients.add(client);
    try {
      await client.pool.warmUp();
    } catch (e) {
      openClients.delete(client);
      throw e;
    }
    return client;
  }

  get authKeyId(): number {
    return this.pool.authKeyId;
  }

  get openSessions(): number {
    return this.pool.size;
  }

  /** The session pool's state (ok, unreachable, sessions-full) and its waiting, for a station. */
  get health(): SessionPool {
    return this.pool;
  }

  deviceInfo = (): Promise<DeviceInfo> => sendPlain(this.connector, deviceInfo, undefined);
  storageInfo = (): Promise<StorageInfo> => this.pool.use((s) => s.send(getStorageInfo, undefined));
  echo = (data: Uint8Array): Promise<Uint8Array> => this.pool.use((s) => s.send(echo, data));
  listObjects = (filter: ListFilter = {}): Promise<ObjectRef[]> => this.pool.use((s) => s.send(listObjects, filter));
  getObjectInfo = (id: number, type: number): Promise<ObjectInfo> => this.pool.use((s) => s.send(getObjectInfo, { id, type }, `get-object-info ${obj(id, type)}`));
  getOpaque = (id: number): Promise<Uint8Array> => this.pool.use((s) => s.send(getOpaque, id, `get-opaque ${hex16(id)}`));
  getPublicKey = (id: number): Promise<PublicKey> => this.pool.use((s) => s.send(getPublicKey, id, `get-public-key ${hex16(id)}`));
  signEddsa = (keyId: number, data: Uint8Array): Promise<Uint8Array> => this.pool.use((s) => s.send(signEddsa, { keyId, data }, `sign-eddsa with key ${hex16(keyId)}`));
  /** ECDSA over a digest the caller computed; the DER answer comes back as raw r || s. */
  signEcdsa = async (keyId: number, digest: Uint8Array): Promise<Uint8Array> => derToRaw(await this.pool.use((s) => s.send(signEcdsa, { keyId, data: digest }, `sign-ecdsa with key ${hex16(keyId)}`)));
  putOpaque = (o: NewObject, data: Uint8Array): Promise<number> => this.pool.use((s) => s.send(putOpaque, { ...o, data }, `put-opaque ${hex16(o.id)} "${o.label}"`));
  putAsymmetricKey = (o: NewObject, privateKey: Uint8Array): Promise<number> => this.pool.use((s) => s.send(putAsymmetricKey, { ...o, privateKey }, `put-asymmetric-key ${hex16(o.id)} "${o.label}"`));
  generateAsymmetricKey = (o: NewObject): Promise<number> => this.pool.use((s) => s.send(generateAsymmetricKey, o, `generate-asymmetric-key ${hex16(o.id)} "${o.label}"`));
  putAuthenticationKey = (o: NewObject, delegatedCapabilities: bigint, key: AuthKey): Promise<number> =>
    this.pool.use((s) => s.send(putAuthenticationKey, { ...o, delegatedCapabilities, encKey: key.encKey, macKey: key.macKey }, `put-authentication-key ${hex16(o.id)}`));
  deleteObject = (id: number, type: number): Promise<void> => this.pool.use((s) => s.send(deleteObject, { id, type }, `delete-object ${obj(id, type)}`));
  getPseudoRandom = (length: number): Promise<Uint8Array> => this.pool.use((s) => s.send(getPseudoRandom, length));
  /** Closes every session on the device. */
  close = (): Promise<void> => {
    openClients.delete(this);
    return this.pool.close();
  };
}

/**
 * Opens a client with the first of `slots` that holds an authentication key: a slot without one
 * (OBJECT_NOT_FOUND) moves on to the next, anything else (a wrong PIN above all) ends at once.
 */
export async function openAuthenticatedClient(connector: Connector, pin: string, slots: readonly number[], sessions = 1): Promise<HsmClient> {
  if (slots.length === 0) throw new RangeError("openAuthenticatedClient: no authentication key slot to try");
  const status = await connector.status();
  const authKey = deriveAuthKey(pin);
  for (const slot of slots) {
    try {
      return await HsmClient.open(connector, status, slot, authKey, sessions);
    } catch (e) {
      if (!isDeviceError(e, "OBJECT_NOT_FOUND")) throw e;
    }
  }
  const named = slots.map(hex16).join(" or ");
  throw new HsmDeviceError(DEVICE_ERROR.OBJECT_NOT_FOUND, `create-session with authentication key ${named}`, {
    advice: slots.length > 1 ? `this HSM has no authentication key in slot ${slots.join(" or ")}; check it is the right HSM, or give --pin-slot` : `this HSM has no authentication key in slot ${slots[0]}; check --pin-slot`,
  });
}
