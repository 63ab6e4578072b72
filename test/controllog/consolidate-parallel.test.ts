// consolidate verifies device signatures in Bun Workers while it reads the next logs
// (verify-pool.ts, verify-worker.ts; validate.ts checkAsync, consolidate.ts forEachEntry): the
// verdicts, the messages, the entry indexes and the order of the reports must be exactly those
// of checking one entry at a time. Through the compiled binary, with bad entries spread over
// more logs than are read ahead.
import { beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EntryValidator } from "../../src/controllog/validate.ts";
import { VerifyPool } from "../../src/controllog/verify-pool.ts";
import { decodeChain } from "../../src/sidewalk/chain.ts";
import { toBeSigned } from "../../src/sidewalk/csr.ts";
import { CURVE_NAMES, CURVES, type Curve } from "../../src/sidewalk/curves.ts";
import { entryObject, type ControlLogEntry } from "../../src/controllog/format.ts";
import { fromBase64, toBase64 } from "../../src/lib/bytes.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { makeEntry, makeTestLine, writeLogFile } from "./fixtures.ts";

const tempDir = () => scratchDir("conspar");
const name = (i: number) => `C_CONTROL_LOG_20261121${String(i).padStart(6, "0")}.txt`;

/** Flips one bit of a chain's byte at `offset`: 100 is inside the device signature of both curves. */
function flip(chain: string, offset = 100): string {
  const bytes = fromBase64(chain);
  bytes[offset]! ^= 0x01;
  return toBase64(bytes);
}

const at = "control log: controlLogs";
const edSig = (i: number) => `${at}[${i}] Ed25519 chain: signature of certificate 0 (DEVICE) does not verify against DAK`;
const p256Sig = (i: number) => `${at}[${i}] P-256 chain: signature of certificate 0 (DEVICE) does not verify against DAK`;

let entries: ControlLogEntry[];
beforeAll(async () => {
  const line = makeTestLine();
  entries = [];
  for (let i = 0; i < 160; i++) entries.push(await makeEntry(line));
});

/** The broken entries, by file number, with the one reason each must be refused with. */
function broken(): Map<number, { entries: ControlLogEntry[]; reason: string; index: number }> {
  const e = (i: number) => entries[i]!;
  return new Map([
    [10, { entries: [{ ...e(10), ed25519Chain: flip(e(10).ed25519Chain) }], index: 0, reason: edSig(0) }],
    [70, { entries: [{ ...e(70), p256r1Chain: flip(e(70).p256r1Chain) }], index: 0, reason: p256Sig(0) }],
    // A bad Ed25519 signature comes before the P-256 chain's wrong serial, as when checked in turn.
    [100, { entries: [{ ...e(100), ed25519Chain: flip(e(100).ed25519Chain), p256r1Chain: e(101).p256r1Chain }], index: 0, reason: edSig(0) }],
    [110, { entries: [{ ...e(110), ed25519Chain: flip(e(110).ed25519Chain), p256r1Chain: flip(e(110).p256r1Chain) }], index: 0, reason: edSig(0) }],
    // A check after a good signature fails before the P-256 chain's bad signature is reached.
    [140, { entries: [{ ...e(140), label: "production", p256r1Chain: flip(e(140).p256r1Chain) }], index: 0, reason: `${at}[0] Ed25519 chain: label is production but the chain does not end at Amazon's production root` }],
    // A bad signature before a check that fails after it: the signature is the reason.
    [145, { entries: [{ ...e(145), label: "production", ed25519Chain: flip(e(145).ed25519Chain) }], index: 0, reason: edSig(0) }],
  ]);
}

describe("consolidate with signatures verified in parallel", () => {
  test("checkAsync gives check's verdict and message for every broken entry", async () => {
    const validator = new EntryValidator();
    const cases = [...broken().values()].map((b) => b.entries[0]!);
    for (const entry of [...cases, entries[0]!]) {
      const raw = JSON.parse(JSON.stringify(entryObject(entry)));
      let syncReason = "ok";
      try {
        new EntryValidator().check(raw, 0);
      } catch (e) {
        syncReason = (e as Error).message;
      }
      let asyncReason = "ok";
      try {
        await validator.checkAsync(raw, 0);
      } catch (e) {
        asyncReason = (e as Error).message;
      }
      expect(asyncReason).toBe(syncReason);
    }
    expect(await validator.checkAsync(JSON.parse(JSON.stringify(entryObject(entries[0]!))), 0)).toEqual(entries[0]!);
  });

  test("the compiled binary refuses each bad signature with the same message, entry index and order", async () => {
    const logs = tempDir();
    const bad = broken();
    const paths: string[] = [];
    const expected: string[] = [];
    for (let i = 0; i < 150; i++) {
      const path = join(logs, name(i));
      paths.push(path);
      const b = bad.get(i);
      if (i === 120) {
        // A multi-entry log whose third entry has a bad P-256 device signature.
        writeLogFile(logs, name(i), [entries[120]!, entries[150]!, { ...entries[151]!, p256r1Chain: flip(entries[151]!.p256r1Chain) }, entries[152]!]);
        expected.push(`invalid: ${path} [entry 2]: ${p256Sig(2)}`);
      } else if (i === 130) {
        writeFileSync(path, "nope");
        expected.push(`invalid: ${path}: control log: not valid JSON (JSON Parse error: Unexpected identifier "nope")`);
      } else if (b) {
        writeLogFile(logs, name(i), b.entries);
        expected.push(`invalid: ${path} [entry ${b.index}]: ${b.reason}`);
      } else {
        writeLogFile(logs, name(i), [entries[i]!]);
      }
    }
    const cwd = tempDir();
    // Every batch of signatures to a worker (none verified in the main thread), and said so.
    const r = await swtool(["consolidate", ...paths], { cwd, env: { SWTOOL_DEBUG_VERIFY_POOL: "1" } });
    expect(r.stderr).toMatch(/^verify pool: [1-9]\d* batches in workers, 0 in the main thread$/m);
    expect(r.stderr).not.toContain("a worker failed");
    expect(r.code).not.toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    const problems = r.stderr.split("\n").filter((l) => l.includes("invalid: "));
    expect(problems.map((l) => l.slice(l.indexOf("invalid: ")))).toEqual(expected);
    expect(r.stderr).toContain("read 150 files, 152 entries: 145 devices, 0 duplicates merged, 8 invalid, 0 conflicts");
  });
});

describe("VerifyPool", () => {
  /** 300 device signatures of both curves (5 batches), every seventh device's broken, with the main thread's verdicts. */
  function jobs() {
    const out: { curve: Curve; signature: Uint8Array; message: Uint8Array; publicKey: Uint8Array; expected: boolean }[] = [];
    for (let i = 0; i < 150; i++) {
      const entry = entries[i % entries.length]!;
      for (const curve of CURVE_NAMES) {
        const chain = decodeChain(fromBase64(curve === "ed25519" ? entry.ed25519Chain : entry.p256r1Chain), curve);
        const device = chain.certs[0]!;
        const signature = device.signature.slice();
        if (i % 7 === 3) signature[5]! ^= 0x01;
        const message = toBeSigned(device.publicKey, device.serial);
        const publicKey = chain.certs[1]!.publicKey;
        out.push({ curve, signature, message, publicKey, expected: CURVES[curve].verify(signature, message, publicKey) });
      }
    }
    return out;
  }

  test.each([
    ["its workers", undefined],
    ["the main thread when its worker cannot start", "file:///nonexistent/verify-worker.ts"],
  ])("gives the main thread's verdicts through %s", async (_, url) => {
    const pool = new VerifyPool(2, url);
    const all = jobs();
    expect(all.filter((j) => !j.expected)).toHaveLength(2 * 21);
    const verdicts = all.map((j) => pool.verify(j.curve, j.signature, j.message, j.publicKey));
    pool.flush();
    expect(await Promise.all(verdicts)).toEqual(all.map((j) => j.expected));
    pool.close();
    // The first batches always go to a worker (none is behind yet); with none, all are verified here.
    if (url) expect(pool.counts).toEqual({ workers: 0, here: 5 });
    else expect(pool.counts.workers).toBeGreaterThan(0);
  });
});
