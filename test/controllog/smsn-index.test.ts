// The consolidation index (src/controllog/smsn-index.ts): SMSNs with digests and files, kept in
// a scratch SQLite database that close() deletes.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIGEST_LENGTH, SmsnIndex } from "../../src/controllog/smsn-index.ts";

const smsn = (n: number) => new Uint8Array(32).fill(n);
const digest = (n: number) => new Uint8Array(DIGEST_LENGTH).fill(n);

describe("SmsnIndex", () => {
  test("tells new, identical duplicate and conflicting entries apart, naming the first file", () => {
    const index = new SmsnIndex();
    try {
      const a = index.addFile("logs/station-1/C_CONTROL_LOG_1.txt");
      const b = index.addFile("logs/station-2/C_CONTROL_LOG_2.txt");
      expect([a, b]).toEqual([0, 1]);
      expect(index.add(smsn(1), digest(1), a)).toEqual({ status: "new" });
      expect(index.add(smsn(2), digest(2), a)).toEqual({ status: "new" });
      expect(index.add(smsn(1), digest(1), b)).toEqual({ status: "duplicate", source: a });
      expect(index.add(smsn(2), digest(9), b)).toEqual({ status: "conflict", source: a });
      expect(index.size).toBe(2);
      expect(index.file(a)).toBe("logs/station-1/C_CONTROL_LOG_1.txt");
      expect(index.file(b)).toBe("logs/station-2/C_CONTROL_LOG_2.txt");
      expect(() => index.file(2)).toThrow("no file number 2");
    } finally {
      index.close();
    }
  });

  test("SMSNs differing only in their last byte are different devices", () => {
    const index = new SmsnIndex();
    try {
      const other = smsn(7);
      other[31] = 8;
      expect(index.add(smsn(7), digest(1), 0).status).toBe("new");
      expect(index.add(other, digest(2), 0).status).toBe("new");
    } finally {
      index.close();
    }
  });

  test("keeps entry texts for the write pass, in the order kept, with their file", () => {
    const index = new SmsnIndex();
    try {
      const a = index.addFile("logs/a.txt");
      const b = index.addFile("logs/b.txt");
      index.keep("03".repeat(32), "pd25", "test", b, "text of 3");
      index.keep("01".repeat(32), "ab12", "production", a, "text of 1\nwith a line break");
      expect([...index.kept()]).toEqual([
        { smsn: "03".repeat(32), apid: "pd25", label: "test", path: "logs/b.txt", text: "text of 3" },
        { smsn: "01".repeat(32), apid: "ab12", label: "production", path: "logs/a.txt", text: "text of 1\nwith a line break" },
      ]);
    } finally {
      index.close();
    }
  });

  test("kept entries cross the spool's 1 MiB blocks intact (multi-byte text, varied lengths)", () => {
    const index = new SmsnIndex();
    try {
      const f = index.addFile("logs/ü.txt");
      // Entry 1000 is larger than a block: written alone, read through a grown buffer.
      const text = (i: number) => `entry ${i} é€ ` + "x".repeat(i === 1000 ? 3 << 20 : (i * 7919) % 5000) + "\n    }";
      for (let i = 0; i < 2000; i++) index.keep(i.toString(16).padStart(64, "0"), "pd25", "test", f, text(i));
      let i = 0;
      for (const kept of index.kept()) {
        expect(kept).toEqual({ smsn: i.toString(16).padStart(64, "0"), apid: "pd25", label: "test", path: "logs/ü.txt", text: text(i) });
        i++;
      }
      expect(i).toBe(2000);
    } finally {
      index.close();
    }
  });

  test("holds more entries than one transaction batch, and close deletes its database", () => {
    const parent = mkdtempSync(join(tmpdir(), "smsn-index-test-"));
    const index = new SmsnIndex(parent);
    const key = new Uint8Array(32);
    const view = new DataView(key.buffer);
    for (let i = 0; i < 50_000; i++) {
      view.setUint32(0, i);
      expect(index.add(key, digest(i & 0xff), i).status).toBe("new");
    }
    view.setUint32(0, 41_234);
    expect(index.add(key, digest(41_234 & 0xff), 0)).toEqual({ status: "duplicate", source: 41_234 });
    expect(index.size).toBe(50_000);
    expect(readdirSync(parent)).toHaveLength(1);
    index.close();
    index.close();
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(parent)).toBe(true);
  });
});

test("an unusable temporary directory is named, with the fix", () => {
  expect(() => new SmsnIndex("/nonexistent-swtool-dir")).toThrow("cannot create the scratch index under /nonexistent-swtool-dir");
  try {
    new SmsnIndex("/nonexistent-swtool-dir");
  } catch (e) {
    expect((e as { advice?: string }).advice).toBe("point TMPDIR (TEMP on Windows) at a writable directory with room for about as much again as the consolidated file");
  }
});
