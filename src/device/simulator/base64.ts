// The firmware's incremental base64 decoder (sid_base64_ctx in sdk-sidewalk's sid_base64.h):
// pieces are fed one `write` at a time into a fixed output buffer; decoding stops when the
// buffer is full, leaving input unconsumed, which the CLI then reports as an error.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) VALUE[ALPHABET.charCodeAt(i)] = i;

export class Base64Sink {
  private readonly out: Uint8Array;
  totalOut = 0;
  /** Bits decoded but not yet written (the context's temp_len). */
  tempLen = 0;
  private temp = 0;
  private padded = false;

  constructor(capacity: number) {
    this.out = new Uint8Array(capacity);
  }

  get availOut(): number {
    return this.out.length - this.totalOut;
  }

  get data(): Uint8Array {
    return this.out.subarray(0, this.totalOut);
  }

  /** Decodes what fits; returns the number of input characters left unconsumed, or -1 on a bad character. */
  decode(piece: string): number {
    for (let i = 0; i < piece.length; i++) {
      const ch = piece.charCodeAt(i);
      if (ch === 0x3d) {
        // '=' ends the data: drop the bits that do not make a whole byte.
        this.padded = true;
        this.temp = 0;
        this.tempLen = 0;
        continue;
      }
      const v = ch < 128 ? VALUE[ch]! : -1;
      if (v < 0 || this.padded) return -1;
      if (this.tempLen >= 8 && this.availOut === 0) return piece.length - i;
      this.temp = ((this.temp << 6) | v) & 0xffffff;
      this.tempLen += 6;
      if (this.tempLen >= 8) {
        if (this.availOut === 0) return piece.length - i - 1;
        this.tempLen -= 8;
        this.out[this.totalOut++] = (this.temp >> this.tempLen) & 0xff;
      }
    }
    return 0;
  }
}

/** The firmware prints base64 in pieces of at most `mtu` characters. */
export function base64Pieces(data: Uint8Array, mtu: number): string[] {
  const text = Buffer.from(data).toString("base64");
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += mtu) pieces.push(text.slice(i, i + mtu));
  return pieces;
}
