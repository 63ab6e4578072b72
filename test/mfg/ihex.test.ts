// Intel HEX checked by an independent implementation (GNU objcopy) in both directions:
// objcopy reads what we write back to the same bytes at the same address, and we read what
// objcopy writes. Damaged files are refused with the line and the reason.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readIntelHex, writeIntelHex } from "../../src/mfg/index.ts";
import { toHex } from "../../src/lib/bytes.ts";
import { expectedBin, expectedHex } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const dir = scratchDir("ihex");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function objcopy(...args: string[]): void {
  const r = Bun.spawnSync(["objcopy", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`objcopy ${args.join(" ")}: ${r.stderr.toString()}`);
}

/** objcopy's view of a HEX file: the bytes, and the lowest address (from an srec dump). */
function objcopyRead(hex: string): { address: number; data: Uint8Array } {
  const file = join(dir, `in-${Math.random().toString(36).slice(2)}.hex`);
  writeFileSync(file, hex);
  objcopy("-I", "ihex", "-O", "binary", file, `${file}.bin`);
  objcopy("-I", "ihex", "-O", "srec", "--srec-forceS3", file, `${file}.srec`);
  const first = readFileSync(`${file}.srec`, "utf8").split("\n").find((l) => l.startsWith("S3"))!;
  return { address: parseInt(first.slice(4, 12), 16), data: new Uint8Array(readFileSync(`${file}.bin`)) };
}

const page = expectedBin("testpki-acs-tlv");

describe("writer", () => {
  for (const address of [0, 0x1000, 0xfff8, 0xfd000, 0x1ffff0, 0x08178000]) {
    test(`objcopy reads the page back at 0x${address.toString(16)}`, () => {
      const read = objcopyRead(writeIntelHex(page, address));
      expect(read.address).toBe(address);
      expect(toHex(read.data)).toBe(toHex(page));
    });
  }

  test("records as python-intelhex lays them out", () => {
    const hex = expectedHex("testpki-acs-addr-fff8").split("\n");
    // Extended address 0, 8 bytes up to the 64 KiB boundary, extended address 1, then 16-byte records.
    expect(hex.slice(0, 4)).toEqual([":020000040000FA", ":08FFF8005349443000000008E9", ":020000040001F9", hex[3]!]);
    expect(hex[3]!.slice(0, 9)).toBe(":10000000");
    expect(writeIntelHex(new Uint8Array(0), 0)).toBe(":00000001FF\n");
    expect(writeIntelHex(new Uint8Array([1, 2, 3]), 0x10)).toBe(":03001000010203E7\n:00000001FF\n");
    expect(() => writeIntelHex(page, 0xffffff00)).toThrow("does not fit the 32-bit Intel HEX address space");
  });
});

describe("reader", () => {
  test("reads objcopy's Intel HEX of the page", () => {
    const bin = join(dir, "page.bin");
    writeFileSync(bin, page);
    objcopy("-I", "binary", "-O", "ihex", "--change-addresses", "0xFD000", bin, join(dir, "objcopy.hex"));
    const image = readIntelHex(readFileSync(join(dir, "objcopy.hex"), "utf8"));
    expect(image.address).toBe(0xfd000);
    expect(toHex(image.data)).toBe(toHex(page));
  });

  test("round trip, CRLF line ends", () => {
    const image = readIntelHex(writeIntelHex(page, 0xfff8).replace(/\n/g, "\r\n"));
    expect(image.address).toBe(0xfff8);
    expect(toHex(image.data)).toBe(toHex(page));
  });

  test("refuses damaged files, naming the line", () => {
    const good = writeIntelHex(page.subarray(0, 40), 0xfd000);
    const lines = good.split("\n");
    const withLine = (i: number, l: string) => lines.map((x, k) => (k === i ? l : x)).join("\n");
    expect(() => readIntelHex(withLine(1, lines[1]!.slice(0, -2) + "00"), "p.hex")).toThrow("p.hex line 2: checksum mismatch (the line is damaged)");
    expect(() => readIntelHex(withLine(1, lines[1]!.slice(0, 21)), "p.hex")).toThrow("p.hex line 2: record declares 16 data bytes but holds");
    expect(() => readIntelHex(withLine(1, "hello"), "p.hex")).toThrow('p.hex line 2: not an Intel HEX record ("hello")');
    expect(() => readIntelHex(lines.slice(0, -2).join("\n"), "p.hex")).toThrow("p.hex: no end-of-file record (:00000001FF); the file is truncated");
    expect(() => readIntelHex(lines.filter((_, k) => k !== 2).join("\n"), "p.hex")).toThrow("p.hex: the data has a gap before 0xfd020; a manufacturing page is one block");
    expect(() => readIntelHex(good + ":00000001FF\n", "p.hex")).toThrow("p.hex line 6: data after the end-of-file record");
    expect(() => readIntelHex([lines[0], lines[1], lines[1], ":00000001FF"].join("\n"), "p.hex")).toThrow("p.hex line 3: address 0xfd000 is written twice");
    expect(() => readIntelHex(":00000001FF\n", "p.hex")).toThrow("p.hex: holds no data");
    expect(() => readIntelHex(":0100000606F3\n:00000001FF\n", "p.hex")).toThrow("p.hex line 1: unknown record type 6");
  });
});
