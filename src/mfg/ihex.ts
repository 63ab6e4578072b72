// Intel HEX (Intel's "Hexadecimal Object File Format Specification", rev. A): the writer lays
// records out exactly as python-intelhex's tofile() does for one contiguous block (what
// provision.py writes): 16 data bytes per record, none crossing a 64 KiB boundary, a type-04
// extended linear address record before the first record and at every 64 KiB boundary when
// the block ends above 0xFFFF, upper-case hex, LF line ends, then the EOF record.
// The reader accepts types 00-05, checks every checksum and returns one contiguous block.
import { FormatError } from "../lib/errors.ts";

/** provision.py's address of the manufacturing page on nRF52840 (SidChipAddr nrf52840). */
export const NORDIC_DEFAULT_ADDRESS = 0xfd000;

const BYTES_PER_RECORD = 16;

function record(type: number, address: number, data: ArrayLike<number>): string {
  const bytes = [data.length, (address >> 8) & 0xff, address & 0xff, type, ...Array.from(data)];
  const checksum = -bytes.reduce((a, b) => a + b, 0) & 0xff;
  return ":" + [...bytes, checksum].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join("") + "\n";
}

export function writeIntelHex(data: Uint8Array, address: number): string {
  if (!Number.isInteger(address) || address < 0 || address + data.length > 0x1_0000_0000) {
    throw new FormatError(`address 0x${address.toString(16)} + ${data.length} bytes does not fit the 32-bit Intel HEX address space`);
  }
  let out = "";
  if (data.length) {
    const last = address + data.length - 1;
    const needExtended = last > 0xffff;
    let offset = 0;
    let high = -1;
    while (offset < data.length) {
      const at = address + offset;
      if (needExtended && at >>> 16 !== high) {
        high = at >>> 16;
        out += record(4, 0, [(high >> 8) & 0xff, high & 0xff]);
      }
      const low = at & 0xffff;
      const count = Math.min(BYTES_PER_RECORD, 0x10000 - low, data.length - offset);
      out += record(0, low, data.subarray(offset, offset + count));
      offset += count;
    }
  }
  return out + ":00000001FF\n";
}

export interface HexImage {
  address: number;
  data: Uint8Array;
}

/** Parses Intel HEX text into its one contiguous block (gaps are refused: a page has none). */
export function readIntelHex(text: string, where = "Intel HEX"): HexImage {
  const bytes = new Map<number, number>();
  let upper = 0;
  let ended = false;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    const at = `${where} line ${i + 1}`;
    if (line === "") return;
    if (ended) throw new FormatError(`${at}: data after the end-of-file record`);
    if (!/^:([0-9A-Fa-f]{2})+$/.test(line)) throw new FormatError(`${at}: not an Intel HEX record (${JSON.stringify(line.slice(0, 20))})`);
    const rec = Buffer.from(line.slice(1), "hex");
    const count = rec[0]!;
    if (rec.length !== count + 5) throw new FormatError(`${at}: record declares ${count} data bytes but holds ${rec.length - 5}`);
    const sum = rec.reduce((a, b) => a + b, 0) & 0xff;
    if (sum !== 0) throw new FormatError(`${at}: checksum mismatch (the line is damaged)`);
    const type = rec[3]!;
    const data = rec.subarray(4, 4 + count);
    const offset = (rec[1]! << 8) | rec[2]!;
    switch (type) {
      case 0:
        data.forEach((b, k) => {
          const addr = upper + ((offset + k) & 0xffff);
          if (bytes.has(addr)) throw new FormatError(`${at}: address 0x${addr.toString(16)} is written twice`);
          bytes.set(addr, b);
        });
        break;
      case 1:
        ended = true;
        break;
      case 2:
        if (count !== 2) throw new FormatError(`${at}: extended segment address record needs 2 bytes`);
        upper = ((data[0]! << 8) | data[1]!) * 16;
        break;
      case 4:
        if (count !== 2) throw new FormatError(`${at}: extended linear address record needs 2 bytes`);
        upper = ((data[0]! << 24) | (data[1]! << 16)) >>> 0;
        break;
      case 3:
      case 5:
        break; // start addresses: nothing to load
      default:
        throw new FormatError(`${at}: unknown record type ${type}`);
    }
  });
  if (!ended) throw new FormatError(`${where}: no end-of-file record (:00000001FF); the file is truncated`);
  if (bytes.size === 0) throw new FormatError(`${where}: holds no data`);
  const addresses = [...bytes.keys()].sort((a, b) => a - b);
  const first = addresses[0]!;
  const last = addresses[addresses.length - 1]!;
  if (last - first + 1 !== addresses.length) {
    const gap = addresses.find((a, k) => k > 0 && a !== addresses[k - 1]! + 1)!;
    throw new FormatError(`${where}: the data has a gap before 0x${gap.toString(16)}; a manufacturing page is one block`);
  }
  return { address: first, data: new Uint8Array(addresses.map((a) => bytes.get(a)!)) };
}

export function looksLikeIntelHex(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === 0x3a /* ':' */ && data.subarray(0, Math.min(64, data.length)).every((b) => b === 0x0a || b === 0x0d || b === 0x3a || (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66));
}
