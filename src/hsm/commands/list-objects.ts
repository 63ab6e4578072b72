// LIST OBJECTS: every object the session can see, optionally filtered (id, type, domains,
// capabilities, algorithm, label). https://developers.yubico.com/YubiHSM2/Commands/List_Objects.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { FormatError } from "../../lib/errors.ts";
import { CMD, LABEL_LENGTH, LIST_FILTER, packLabel, u16, u64, unpackLabel } from "../protocol.ts";
import { byteOf, u16Of, u64Of, type CommandCodec } from "./command.ts";

export interface ListFilter {
  id?: number;
  type?: number;
  domains?: number;
  capabilities?: bigint;
  algorithm?: number;
  label?: string;
}

export interface ObjectRef {
  id: number;
  type: number;
  sequence: number;
}

export const listObjects: CommandCodec<ListFilter, ObjectRef[]> = {
  code: CMD.LIST_OBJECTS,
  name: "list-objects",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/List_Objects.html",
  encodeRequest(f) {
    const parts: Uint8Array[] = [];
    if (f.id !== undefined) parts.push(new Uint8Array([LIST_FILTER.ID]), u16(f.id));
    if (f.type !== undefined) parts.push(new Uint8Array([LIST_FILTER.TYPE, f.type]));
    if (f.domains !== undefined) parts.push(new Uint8Array([LIST_FILTER.DOMAINS]), u16(f.domains));
    if (f.capabilities !== undefined) parts.push(new Uint8Array([LIST_FILTER.CAPABILITIES]), u64(f.capabilities));
    if (f.algorithm !== undefined) parts.push(new Uint8Array([LIST_FILTER.ALGORITHM, f.algorithm]));
    if (f.label !== undefined) parts.push(new Uint8Array([LIST_FILTER.LABEL]), packLabel(f.label));
    return concat(...parts);
  },
  decodeRequest(data) {
    const r = new Reader(data, "list-objects request");
    const f: ListFilter = {};
    while (r.remaining > 0) {
      const tag = byteOf(r, "filter tag");
      if (tag === LIST_FILTER.ID) f.id = u16Of(r, "id filter");
      else if (tag === LIST_FILTER.TYPE) f.type = byteOf(r, "type filter");
      else if (tag === LIST_FILTER.DOMAINS) f.domains = u16Of(r, "domains filter");
      else if (tag === LIST_FILTER.CAPABILITIES) f.capabilities = u64Of(r, "capabilities filter");
      else if (tag === LIST_FILTER.ALGORITHM) f.algorithm = byteOf(r, "algorithm filter");
      else if (tag === LIST_FILTER.LABEL) f.label = unpackLabel(r.take(LABEL_LENGTH, "label filter"));
      else throw new FormatError(`list-objects request: unknown filter tag 0x${tag.toString(16)}`);
    }
    return f;
  },
  encodeResponse: (objects) => concat(...objects.map((o) => concat(u16(o.id), new Uint8Array([o.type, o.sequence])))),
  decodeResponse(data) {
    if (data.length % 4 !== 0) throw new FormatError(`list-objects response: ${data.length} bytes is not a whole number of 4-byte entries`);
    const out: ObjectRef[] = [];
    for (let i = 0; i < data.length; i += 4) out.push({ id: (data[i]! << 8) | data[i + 1]!, type: data[i + 2]!, sequence: data[i + 3]! });
    return out;
  },
};
