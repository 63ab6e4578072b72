// GET OBJECT INFO: capabilities, id, size, domains, type, algorithm, sequence, origin, label and
// delegated capabilities of one object. https://developers.yubico.com/YubiHSM2/Commands/Get_Object_Info.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, LABEL_LENGTH, packLabel, u16, u64, unpackLabel } from "../protocol.ts";
import { byteOf, u16Of, u64Of, type CommandCodec } from "./command.ts";

export interface ObjectId {
  id: number;
  type: number;
}

export interface ObjectInfo {
  capabilities: bigint;
  id: number;
  size: number;
  domains: number;
  type: number;
  algorithm: number;
  sequence: number;
  origin: number;
  label: string;
  delegatedCapabilities: bigint;
}

export const getObjectInfo: CommandCodec<ObjectId, ObjectInfo> = {
  code: CMD.GET_OBJECT_INFO,
  name: "get-object-info",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Get_Object_Info.html",
  encodeRequest: (o) => concat(u16(o.id), new Uint8Array([o.type])),
  decodeRequest(data) {
    const r = new Reader(data, "get-object-info request");
    const out = { id: u16Of(r, "object id"), type: byteOf(r, "object type") };
    r.end();
    return out;
  },
  encodeResponse: (i) =>
    concat(
      u64(i.capabilities),
      u16(i.id),
      u16(i.size),
      u16(i.domains),
      new Uint8Array([i.type, i.algorithm, i.sequence, i.origin]),
      packLabel(i.label),
      u64(i.delegatedCapabilities),
    ),
  decodeResponse(data) {
    const r = new Reader(data, "get-object-info response");
    const out: ObjectInfo = {
      capabilities: u64Of(r, "capabilities"),
      id: u16Of(r, "id"),
      size: u16Of(r, "size"),
      domains: u16Of(r, "domains"),
      type: byteOf(r, "type"),
      algorithm: byteOf(r, "algorithm"),
      sequence: byteOf(r, "sequence"),
      origin: byteOf(r, "origin"),
      label: unpackLabel(r.take(LABEL_LENGTH, "label")),
      delegatedCapabilities: u64Of(r, "delegated capabilities"),
    };
    r.end();
    return out;
  },
};
