// Simulated device: commands on objects in general (list, info, delete) and on opaque objects
// and authentication keys.
import { deleteObject } from "../commands/delete-object.ts";
import { getObjectInfo } from "../commands/get-object-info.ts";
import { getOpaque } from "../commands/get-opaque.ts";
import { listObjects } from "../commands/list-objects.ts";
import { putAuthenticationKey } from "../commands/put-authentication-key.ts";
import { putOpaque } from "../commands/put-opaque.ts";
import { ALGORITHM, CMD, hex16, OBJECT_TYPE, ORIGIN } from "../protocol.ts";
import { admitNew, DELETE_CAPABILITY, fault, requireCapability, visible, type CommandContext } from "./access.ts";
import type { StoredObject } from "./state.ts";

type Handler = (ctx: CommandContext, data: Uint8Array) => Uint8Array;

/** The size GET OBJECT INFO reports: the stored data's length (the device counts key bytes). */
const sizeOf = (o: StoredObject) => o.data.length;

export const objectCommands: Record<number, Handler> = {
  [CMD.LIST_OBJECTS](ctx, data) {
    const f = listObjects.decodeRequest(data);
    const domains = ctx.authKey!.domains;
    const out = [...ctx.state.objects.values()]
      .filter((o) => (o.domains & domains) !== 0)
      .filter((o) => f.id === undefined || o.id === f.id)
      .filter((o) => f.type === undefined || o.type === f.type)
      .filter((o) => f.domains === undefined || (o.domains & f.domains) !== 0)
      .filter((o) => f.capabilities === undefined || (o.capabilities & f.capabilities) !== 0n)
      .filter((o) => f.algorithm === undefined || o.algorithm === f.algorithm)
      .filter((o) => f.label === undefined || o.label === f.label)
      .sort((a, b) => a.id - b.id || a.type - b.type);
    return listObjects.encodeResponse(out.map((o) => ({ id: o.id, type: o.type, sequence: o.sequence })));
  },
  [CMD.GET_OBJECT_INFO](ctx, data) {
    const { id, type } = getObjectInfo.decodeRequest(data);
    ctx.target = hex16(id);
    const o = visible(ctx, type, id);
    return getObjectInfo.encodeResponse({ ...o, size: sizeOf(o) });
  },
  [CMD.GET_OPAQUE](ctx, data) {
    requireCapability(ctx, "GET_OPAQUE");
    const id = getOpaque.decodeRequest(data);
    ctx.target = hex16(id);
    return getOpaque.encodeResponse(visible(ctx, OBJECT_TYPE.OPAQUE, id).data);
  },
  [CMD.PUT_OPAQUE](ctx, data) {
    requireCapability(ctx, "PUT_OPAQUE");
    const o = putOpaque.decodeRequest(data);
    ctx.target = hex16(o.id);
    if (o.algorithm !== ALGORITHM.OPAQUE_DATA && o.algorithm !== ALGORITHM.OPAQUE_X509_CERTIFICATE) throw fault("INVALID_DATA", "opaque algorithm");
    if (o.data.length === 0) throw fault("INVALID_DATA", "empty opaque object");
    const id = admitNew(ctx, OBJECT_TYPE.OPAQUE, o.id, o.domains, o.capabilities);
    ctx.state.put({ ...o, id, type: OBJECT_TYPE.OPAQUE, delegatedCapabilities: 0n, origin: ORIGIN.IMPORTED, data: new Uint8Array(o.data) });
    ctx.persist();
    return putOpaque.encodeResponse(id);
  },
  [CMD.PUT_AUTHENTICATION_KEY](ctx, data) {
    requireCapability(ctx, "PUT_AUTHENTICATION_KEY");
    const k = putAuthenticationKey.decodeRequest(data);
    ctx.target = hex16(k.id);
    if (k.algorithm !== ALGORITHM.AES128_YUBICO_AUTHENTICATION) throw fault("INVALID_DATA", "authentication key algorithm");
    if ((k.delegatedCapabilities & ~ctx.authKey!.delegatedCapabilities) !== 0n) throw fault("INSUFFICIENT_PERMISSIONS", "delegated capabilities beyond the creator's");
    const id = admitNew(ctx, OBJECT_TYPE.AUTHENTICATION_KEY, k.id, k.domains, k.capabilities);
    ctx.state.put({
      id,
      type: OBJECT_TYPE.AUTHENTICATION_KEY,
      algorithm: k.algorithm,
      label: k.label,
      domains: k.domains,
      capabilities: k.capabilities,
      delegatedCapabilities: k.delegatedCapabilities,
      origin: ORIGIN.IMPORTED,
      data: new Uint8Array([...k.encKey, ...k.macKey]),
    });
    ctx.persist();
    return putAuthenticationKey.encodeResponse(id);
  },
  [CMD.DELETE_OBJECT](ctx, data) {
    const { id, type } = deleteObject.decodeRequest(data);
    ctx.target = hex16(id);
    const capability = DELETE_CAPABILITY[type];
    if (!capability) throw fault("INVALID_DATA", `cannot delete objects of type ${type} here`);
    requireCapability(ctx, capability);
    visible(ctx, type, id);
    ctx.state.delete(type, id);
    ctx.persist();
    return deleteObject.encodeResponse();
  },
};
