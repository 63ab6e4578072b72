// The shape every HSM command module has (request and response types, code, encoders and
// decoders for both directions), so the client and the simulator share one codec per command.
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { LABEL_LENGTH, packLabel, readU16, readU64, u16, u64, unpackLabel } from "../protocol.ts";

export interface CommandCodec<Req, Rsp> {
  readonly code: number;
  readonly name: string;
  /** Yubico's page for the command. */
  readonly doc: string;
  encodeRequest(request: Req): Uint8Array;
  decodeRequest(data: Uint8Array): Req;
  encodeResponse(response: Rsp): Uint8Array;
  decodeResponse(data: Uint8Array): Rsp;
}

export const EMPTY = new Uint8Array(0);

export function u16Of(r: Reader, what: string): number {
  return readU16(r.take(2, what), 0);
}

export function u64Of(r: Reader, what: string): bigint {
  return readU64(r.take(8, what), 0);
}

export function byteOf(r: Reader, what: string): number {
  return r.take(1, what)[0]!;
}

/** Decoder for a body that must be exactly empty. */
export function empty(op: string): (data: Uint8Array) => void {
  return (data) => new Reader(data, op).end();
}

/** Decodes a single object id (2 bytes), the answer of every put/generate command. */
export function decodeId(data: Uint8Array, op: string): number {
  const r = new Reader(data, op);
  const id = u16Of(r, "object id");
  r.end();
  return id;
}

/** id, label, domains, capabilities, algorithm: the header of put and generate commands. */
export interface NewObject {
  id: number;
  label: string;
  domains: number;
  capabilities: bigint;
  algorithm: number;
}

export function encodeNewObject(o: NewObject): Uint8Array {
  return concat(u16(o.id), packLabel(o.label), u16(o.domains), u64(o.capabilities), new Uint8Array([o.algorithm]));
}

export function decodeNewObject(r: Reader): NewObject {
  return {
    id: u16Of(r, "object id"),
    label: unpackLabel(r.take(LABEL_LENGTH, "label")),
    domains: u16Of(r, "domains"),
    capabilities: u64Of(r, "capabilities"),
    algorithm: byteOf(r, "algorithm"),
  };
}
