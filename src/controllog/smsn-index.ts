// Compact bookkeeping for consolidating up to millions of logs: which SMSNs were seen, with a
// digest of their entry and the file they came from, in flat typed arrays (about 50 bytes a
// device instead of several hundred for a Map of strings), and the list of file paths packed
// into byte chunks. Lets consolidate tell identical duplicates from conflicts and name both
// files, while its memory stays small beside the logs it streams.

export const DIGEST_LENGTH = 16;
/**
 * SMSNs are SHA-256 outputs; their first 16 bytes identify them (two devices sharing them is
 * a 2^-64 event even at a billion devices, and would only show as a false conflict).
 */
const KEY_LENGTH = 16;
const MAX_LOAD = 0.8;

export type SeenBefore = { status: "new" } | { status: "duplicate" | "conflict"; source: number };

/** Open addressing with linear probing; grows by half so a million SMSNs take about 50 MB. */
export class SmsnIndex {
  private capacity = 4096;
  private keys = new Uint8Array(this.capacity * KEY_LENGTH);
  private digests = new Uint8Array(this.capacity * DIGEST_LENGTH);
  private sources = new Uint32Array(this.capacity);
  /** 0 empty, 1 used, 2 used and already written out in the current pass. */
  private state = new Uint8Array(this.capacity);
  size = 0;

  private slot(key: Uint8Array): number {
    const hash = (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;
    // Multiply-shift maps the hash onto any capacity, not only powers of two.
    let i = Math.floor((hash * this.capacity) / 0x1_0000_0000);
    for (;;) {
      if (this.state[i] === 0 || this.keyEquals(i, key)) return i;
      if (++i === this.capacity) i = 0;
    }
  }

  private keyEquals(i: number, key: Uint8Array): boolean {
    const base = i * KEY_LENGTH;
    for (let k = 0; k < KEY_LENGTH; k++) if (this.keys[base + k] !== key[k]) return false;
    return true;
  }

  private digestEquals(i: number, digest: Uint8Array): boolean {
    const base = i * DIGEST_LENGTH;
    for (let k = 0; k < DIGEST_LENGTH; k++) if (this.digests[base + k] !== digest[k]) return false;
    return true;
  }

  private grow(): void {
    const old = { keys: this.keys, digests: this.digests, sources: this.sources, state: this.state, capacity: this.capacity };
    this.capacity = Math.ceil(this.capacity * 1.5);
    this.keys = new Uint8Array(this.capacity * KEY_LENGTH);
    this.digests = new Uint8Array(this.capacity * DIGEST_LENGTH);
    this.sources = new Uint32Array(this.capacity);
    this.state = new Uint8Array(this.capacity);
    for (let j = 0; j < old.capacity; j++) {
      if (old.state[j] === 0) continue;
      const key = old.keys.subarray(j * KEY_LENGTH, (j + 1) * KEY_LENGTH);
      const i = this.slot(key);
      this.keys.set(key, i * KEY_LENGTH);
      this.digests.set(old.digests.subarray(j * DIGEST_LENGTH, (j + 1) * DIGEST_LENGTH), i * DIGEST_LENGTH);
      this.sources[i] = old.sources[j]!;
      this.state[i] = old.state[j]!;
    }
  }

  /** Records an SMSN's first entry, or says how a later one relates to it. */
  add(smsn: Uint8Array, digest: Uint8Array, source: number): SeenBefore {
    if (this.size + 1 > this.capacity * MAX_LOAD) this.grow();
    const key = smsn.subarray(0, KEY_LENGTH);
    const i = this.slot(key);
    if (this.state[i] !== 0) return { status: this.digestEquals(i, digest) ? "duplicate" : "conflict", source: this.sources[i]! };
    this.keys.set(key, i * KEY_LENGTH);
    this.digests.set(digest, i * DIGEST_LENGTH);
    this.sources[i] = source;
    this.state[i] = 1;
    this.size++;
    return { status: "new" };
  }

  /** Whether `smsn` is known with exactly this digest. */
  has(smsn: Uint8Array, digest: Uint8Array): boolean {
    const i = this.slot(smsn.subarray(0, KEY_LENGTH));
    return this.state[i] !== 0 && this.digestEquals(i, digest);
  }

  /** For a second pass over the same inputs: true the first time an SMSN is taken. */
  takeOnce(smsn: Uint8Array): boolean {
    const i = this.slot(smsn.subarray(0, KEY_LENGTH));
    if (this.state[i] !== 1) return false;
    this.state[i] = 2;
    return true;
  }
}

const CHUNK_BITS = 20;
const CHUNK = 1 << CHUNK_BITS;
/** Paths are split into a directory (numbered, few) and a file name (packed bytes). */
const LENGTH_BITS = 12;
const MAX_DIRS = 2 ** (32 - LENGTH_BITS) - 1;

/** File paths by number: about 40 bytes a log for a million logs in a few directories. */
export class PathList {
  private chunks: Buffer[] = [];
  private used = CHUNK;
  /** Per path: byte offset of its name, then directory number << 12 | name length. */
  private refs = new Uint32Array(2048);
  private dirs = [""];
  private dirNumbers = new Map<string, number>([["", 0]]);
  length = 0;

  private dirNumber(dir: string): number {
    let n = this.dirNumbers.get(dir);
    if (n === undefined) {
      if (this.dirs.length > MAX_DIRS) return -1;
      n = this.dirs.push(dir) - 1;
      this.dirNumbers.set(dir, n);
    }
    return n;
  }

  add(path: string): number {
    const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
    let dir = this.dirNumber(path.slice(0, slash + 1));
    const name = Buffer.from(dir < 0 ? path : path.slice(slash + 1), "utf8");
    if (dir < 0) dir = 0;
    if (name.length >= 1 << LENGTH_BITS) throw new RangeError(`path name longer than ${(1 << LENGTH_BITS) - 1} bytes`);
    if (this.used + name.length > CHUNK) {
      this.chunks.push(Buffer.allocUnsafe(CHUNK));
      this.used = 0;
    }
    name.copy(this.chunks[this.chunks.length - 1]!, this.used);
    if (this.length * 2 + 2 > this.refs.length) {
      const bigger = new Uint32Array(Math.ceil(this.refs.length * 1.5) & ~1);
      bigger.set(this.refs);
      this.refs = bigger;
    }
    this.refs[this.length * 2] = (this.chunks.length - 1) * CHUNK + this.used;
    this.refs[this.length * 2 + 1] = (dir << LENGTH_BITS) | name.length;
    this.used += name.length;
    return this.length++;
  }

  get(index: number): string {
    if (index < 0 || index >= this.length) throw new RangeError(`no path number ${index}`);
    const at = this.refs[index * 2]!;
    const packed = this.refs[index * 2 + 1]!;
    const offset = at % CHUNK;
    const name = this.chunks[Math.floor(at / CHUNK)]!.toString("utf8", offset, offset + (packed & ((1 << LENGTH_BITS) - 1)));
    return this.dirs[packed >>> LENGTH_BITS]! + name;
  }
}
