// What the simulated device checks before a command runs: the session's authentication key
// must hold the command's capability, objects are visible only when they share a domain with
// it, and new objects get no domain or capability their creator could not give
// (Yubico "Concept: Capability", "Concept: Domain").
import { DEVICE_ERROR } from "../errors.ts";
import { CAPABILITY_BIT, OBJECT_TYPE, type CapabilityName } from "../protocol.ts";
import type { DeviceState, StoredObject } from "./state.ts";

/** A device error code to answer with (`7f 00 01 code`). */
export class DeviceFault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const fault = (name: keyof typeof DEVICE_ERROR, why: string) => new DeviceFault(DEVICE_ERROR[name], why);

export interface CommandContext {
  state: DeviceState;
  /** The session's authentication key (undefined for commands outside a session). */
  authKey: StoredObject | undefined;
  /** Persist the store after a change. */
  persist(): void;
  /** The object the command is about, for the log. */
  target?: string;
}

export const has = (o: StoredObject, name: CapabilityName) => ((o.capabilities >> BigInt(CAPABILITY_BIT[name])) & 1n) === 1n;

export function requireCapability(ctx: CommandContext, name: CapabilityName): StoredObject {
  const auth = ctx.authKey;
  if (!auth) throw fault("INVALID_SESSION", "command needs a session");
  if (!has(auth, name)) throw fault("INSUFFICIENT_PERMISSIONS", `authentication key lacks ${name}`);
  return auth;
}

/** The object as the session sees it: absent when missing or outside the key's domains. */
export function visible(ctx: CommandContext, type: number, id: number): StoredObject {
  const o = ctx.state.get(type, id);
  const domains = ctx.authKey?.domains ?? 0;
  if (!o || (o.domains & domains) === 0) throw fault("OBJECT_NOT_FOUND", `no object type ${type} id ${id}`);
  return o;
}

/** Checks a new object's id, domains and capabilities; returns the id to use (0 = pick one). */
export function admitNew(ctx: CommandContext, type: number, id: number, domains: number, capabilities: bigint): number {
  const auth = ctx.authKey!;
  if (domains === 0 || (domains & ~auth.domains) !== 0) throw fault("INVALID_DATA", "domains outside the authentication key's");
  if ((capabilities & ~auth.delegatedCapabilities) !== 0n) throw fault("INSUFFICIENT_PERMISSIONS", "capabilities beyond the key's delegated set");
  if (ctx.state.objects.size >= 256) throw fault("STORAGE_FAILED", "all 256 object slots are used");
  if (id === 0) {
    for (let candidate = 1; candidate <= 0xfffe; candidate++) if (!ctx.state.get(type, candidate)) return candidate;
    throw fault("STORAGE_FAILED", "no free id");
  }
  if (id === 0xffff) throw fault("INVALID_ID", "id 0xffff is reserved");
  if (ctx.state.get(type, id)) throw fault("OBJECT_EXISTS", `object type ${type} id ${id} exists`);
  return id;
}

export const DELETE_CAPABILITY: Record<number, CapabilityName> = {
  [OBJECT_TYPE.OPAQUE]: "DELETE_OPAQUE",
  [OBJECT_TYPE.AUTHENTICATION_KEY]: "DELETE_AUTHENTICATION_KEY",
  [OBJECT_TYPE.ASYMMETRIC_KEY]: "DELETE_ASYMMETRIC_KEY",
};
