// The simulated device's persistent store: objects (opaque data, asymmetric keys, authentication
// keys) keyed by type and id, the serial number, and the factory default. Saved atomically
// (temporary file, fsync, rename) so a crash never leaves a half-written store.
import { readFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { FormatError } from "../../lib/errors.ts";
import { replaceFileSync } from "../../lib/atomic.ts";
import { fromHex, toHex } from "../../lib/bytes.ts";
import { ALGORITHM, ALL_CAPABILITIES, ALL_DOMAINS, OBJECT_TYPE, ORIGIN } from "../protocol.ts";
import { deriveAuthKey } from "../secure-channel.ts";

export interface StoredObject {
  id: number;
  type: number;
  algorithm: number;
  label: string;
  domains: number;
  capabilities: bigint;
  delegatedCapabilities: bigint;
  sequence: number;
  origin: number;
  /** Opaque data, a private key, or K-ENC || K-MAC. Never logged. */
  data: Uint8Array;
}

/** YubiHSM 2: 256 object slots, 126 KB (1024 pages of 126 bytes) (Yubico device specifications). */
export const TOTAL_RECORDS = 256;
export const TOTAL_PAGES = 1024;
export const PAGE_SIZE = 126;

export const FACTORY_AUTH_KEY_ID = 1;
export const FACTORY_PASSWORD = "password";
export const FACTORY_AUTH_KEY_LABEL = "DEFAULT AUTHKEY CHANGE THIS ASAP";

export const objectKey = (type: number, id: number) => `${type}:${id}`;

export class DeviceState {
  readonly objects = new Map<string, StoredObject>();
  /** Sequence numbers survive deletion, as on the device, so a re-created object is told apart. */
  private readonly sequences = new Map<string, number>();

  constructor(public serial: number) {}

  static factory(serial = 10_000_000 + randomInt(89_999_999)): DeviceState {
    const s = new DeviceState(serial);
    const k = deriveAuthKey(FACTORY_PASSWORD);
    s.put({
      id: FACTORY_AUTH_KEY_ID,
      type: OBJECT_TYPE.AUTHENTICATION_KEY,
      algorithm: ALGORITHM.AES128_YUBICO_AUTHENTICATION,
      label: FACTORY_AUTH_KEY_LABEL,
      domains: ALL_DOMAINS,
      capabilities: ALL_CAPABILITIES,
      delegatedCapabilities: ALL_CAPABILITIES,
      origin: ORIGIN.IMPORTED,
      data: new Uint8Array([...k.encKey, ...k.macKey]),
    });
    return s;
  }

  get(type: number, id: number): StoredObject | undefined {
    return this.objects.get(objectKey(type, id));
  }

  put(o: Omit<StoredObject, "sequence">): StoredObject {
    const key = objectKey(o.type, o.id);
    const stored = { ...o, sequence: this.sequences.get(key) ?? 0 };
    this.objects.set(key, stored);
    return stored;
  }

  delete(type: number, id: number): void {
    const key = objectKey(type, id);
    const o = this.objects.get(key);
    if (!o) return;
    this.sequences.set(key, (o.sequence + 1) & 0xff);
    this.objects.delete(key);
  }

  pagesOf(o: StoredObject): number {
    return Math.max(1, Math.ceil(o.data.length / PAGE_SIZE));
  }

  usedPages(): number {
    let total = 0;
    for (const o of this.objects.values()) total += this.pagesOf(o);
    return total;
  }

  toJSON(): unknown {
    return {
      format: "swtool-hsm-simulator-state/1",
      serial: this.serial,
      sequences: Object.fromEntries(this.sequences),
      objects: [...this.objects.values()].map((o) => ({
        ...o,
        capabilities: o.capabilities.toString(16),
        delegatedCapabilities: o.delegatedCapabilities.toString(16),
        data: toHex(o.data),
      })),
    };
  }

  static fromJSON(text: string, path: string): DeviceState {
    let raw: { format?: string; serial?: number; sequences?: Record<string, number>; objects?: Record<string, unknown>[] };
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new FormatError(`simulator state ${path} is not JSON: ${(e as Error).message}`, { advice: "restore the file or start with a fresh --state path" });
    }
    if (raw.format !== "swtool-hsm-simulator-state/1" || typeof raw.serial !== "number" || !Array.isArray(raw.objects)) {
      throw new FormatError(`simulator state ${path} is not a swtool HSM simulator state file`, { advice: "give --state a file this simulator wrote, or a new path" });
    }
    const s = new DeviceState(raw.serial);
    for (const [k, v] of Object.entries(raw.sequences ?? {})) s.sequences.set(k, v);
    for (const o of raw.objects) {
      const stored: StoredObject = {
        id: Number(o.id),
        type: Number(o.type),
        algorithm: Number(o.algorithm),
        label: String(o.label),
        domains: Number(o.domains),
        capabilities: BigInt(`0x${o.capabilities}`),
        delegatedCapabilities: BigInt(`0x${o.delegatedCapabilities}`),
        sequence: Number(o.sequence),
        origin: Number(o.origin),
        data: fromHex(String(o.data), `object ${o.id} data`),
      };
      s.objects.set(objectKey(stored.type, stored.id), stored);
    }
    return s;
  }

  static load(path: string): DeviceState | undefined {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    return DeviceState.fromJSON(text, path);
  }

  /** Writes the whole store to `path` atomically, owner-only (it holds the keys). */
  save(path: string): void {
    replaceFileSync(path, JSON.stringify(this.toJSON(), null, 1) + "\n", 0o600);
  }
}
