// Text gathered as UTF-8 into one reused block of bytes: a large file written block by block
// then allocates nothing per block (a fresh 1 MiB Buffer per block is freed only when the
// garbage collector gets to it, which let a 230 MB write pass hold tens of MB for nothing).

export class ByteBlock {
  private readonly buffer: Buffer;
  private used = 0;

  constructor(size: number) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  /** Appends `text` when it fits; false when it does not (write out the block, then add it again or write it alone). */
  tryAdd(text: string): boolean {
    const room = this.buffer.length - this.used;
    // Three bytes per UTF-16 unit at most: the exact count only when it might not fit.
    if (text.length * 3 > room && Buffer.byteLength(text, "utf8") > room) return false;
    this.used += this.buffer.write(text, this.used, "utf8");
    return true;
  }

  get size(): number {
    return this.used;
  }

  /** The bytes gathered (a view: valid until the next clear). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
  }
}
