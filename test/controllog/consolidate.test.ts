// consolidate: full validation of every entry, duplicates and conflicts, both key spellings,
// the seed's real chains, streaming of large inputs, atomic output in the reference's format.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { consolidate, type ConsolidateOptions } from "../../src/controllog/consolidate.ts";
import { entryObject, formatControlLog, parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { ControlLogScanner, readEntries } from "../../src/controllog/stream-entries.ts";
import { fromBase64, toBase64 } from "../../src/lib/bytes.ts";
import { seed } from "../helpers/vectors.ts";
import { makeEntry, makeTestLine, SEED_ENTRY, writeLogFile, type TestLine } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("cons");
const name = (i: number) => `C_CONTROL_LOG_20261121${String(i).padStart(6, "0")}.txt`;

const seedEntry = SEED_ENTRY;

/** Flips one bit of a chain's byte at `offset` (negative: from the end). */
function flip(chain: string, offset: number): string {
  const bytes = fromBase64(chain);
  const i = offset < 0 ? bytes.length + offset : offset;
  bytes[i]! ^= 0x01;
  return toBase64(bytes);
}

let line: TestLine;
let entries: ControlLogEntry[];
beforeAll(async () => {
  line = makeTestLine();
  entries = [];
  for (let i = 0; i < 40; i++) entries.push(await makeEntry(line, i % 3 === 0 ? "ab12" : "pd25"));
});

async function run(options: Partial<ConsolidateOptions> & { paths: string[] }) {
  const outDir = tempDir();
  const summary = await consolidate({ outDir, now: new Date(2026, 10, 21, 18, 0, 0), ...options });
  return { summary, outDir, written: readdirSync(outDir) };
}

describe("consolidate", () => {
  test("merges a directory tree of per-device logs into the reference's format", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "station-2"));
    entries.forEach((e, i) => writeLogFile(i % 2 ? join(dir, "station-2") : dir, name(i), [e]));
    writeFileSync(join(dir, "notes.txt"), "not a control log");
    const before = readdirSync(dir).map((n) => [n, statSync(join(dir, n)).mtimeMs]);
    const { summary, outDir, written } = await run({ paths: [dir] });
    expect(written).toEqual(["C_CONTROL_LOG_20261121180000.txt"]);
    expect(summary).toMatchObject({ output: join(outDir, written[0]!), files: 40, entries: 40, devices: 40, duplicates: 0, invalid: 0, conflicts: 0, problems: [] });
    expect(summary.perApid).toEqual({ ab12: 14, pd25: 26 });
    expect(summary.perLabel).toEqual({ test: 40 });
    const text = readFileSync(summary.output!, "utf8");
    const parsed = parseControlLog(text);
    expect(new Set(parsed.map((e) => e.serialNumber))).toEqual(new Set(entries.map((e) => e.serialNumber)));
    // json.dump(..., indent=2) without a final newline, as consolidate_cl.py writes it.
    expect(text).toBe(JSON.stringify({ controlLogs: parsed.map(entryObject) }, null, 2));
    expect(readdirSync(dir).map((n) => [n, statSync(join(dir, n)).mtimeMs])).toEqual(before);
  });

  test("accepts the seed's real production chains and both key spellings", async () => {
    const dir = tempDir();
    const capitalised = JSON.parse(formatControlLog([entries[0]!]));
    const data = capitalised.controlLogs[0].device.sidewalkData;
    data.SidewalkED25519CertificateChain = data.sidewalkED25519CertificateChain;
    data.SidewalkP256R1CertificateChain = data.sidewalkP256R1CertificateChain;
    delete data.sidewalkED25519CertificateChain;
    delete data.sidewalkP256R1CertificateChain;
    writeFileSync(join(dir, name(1)), JSON.stringify(capitalised));
    writeLogFile(dir, name(2), [seedEntry]);
    const { summary } = await run({ paths: [join(dir, name(1)), join(dir, name(2))] });
    expect(summary.devices).toBe(2);
    expect(summary.perLabel).toEqual({ test: 1, production: 1 });
    const text = readFileSync(summary.output!, "utf8");
    expect(text).not.toContain("SidewalkED25519CertificateChain");
    expect(parseControlLog(text)).toEqual([entries[0]!, seedEntry]);
  });

  test("globs and explicit files", async () => {
    const dir = tempDir();
    entries.slice(0, 5).forEach((e, i) => writeLogFile(dir, name(i), [e]));
    const { summary } = await run({ paths: [join(dir, "C_CONTROL_LOG_2026112100000[0-2].txt"), join(dir, name(4))] });
    expect(summary.files).toBe(4);
    expect(new Set(parseControlLog(readFileSync(summary.output!, "utf8")))).toEqual(new Set([0, 1, 2, 4].map((i) => entries[i]!)));
  });

  test("identical duplicates are merged with a warning naming both files", async () => {
    const dir = tempDir();
    const a = writeLogFile(dir, name(1), [entries[0]!]);
    const b = writeLogFile(dir, name(2), [entries[1]!, entries[0]!]);
    const { summary } = await run({ paths: [a, b] });
    expect(summary).toMatchObject({ devices: 2, duplicates: 1, invalid: 0 });
    expect(summary.problems).toEqual([{ kind: "duplicate", path: b, smsn: entries[0]!.serialNumber, firstPath: a, reason: "identical entry already read; merged" }]);
    expect(parseControlLog(readFileSync(summary.output!, "utf8"))).toEqual([entries[0]!, entries[1]!]);
  });

  test("two different entries for one SMSN: an error naming both files; --skip-invalid leaves both out", async () => {
    const dir = tempDir();
    const other = { ...entries[0]!, label: "test" as const, apid: "zz99" };
    const a = writeLogFile(dir, name(1), [entries[0]!, entries[1]!]);
    const b = writeLogFile(dir, name(2), [entries[2]!, other]);
    const strict = await run({ paths: [a, b] });
    expect(strict.written).toEqual([]);
    expect(strict.summary.output).toBeUndefined();
    expect(strict.summary.problems).toEqual([
      { kind: "conflict", path: b, smsn: entries[0]!.serialNumber, firstPath: a, reason: `a different entry for SMSN ${entries[0]!.serialNumber} is in ${a}` },
    ]);
    const lenient = await run({ paths: [a, b], skipInvalid: true });
    expect(lenient.summary).toMatchObject({ devices: 2, conflicts: 1 });
    expect(parseControlLog(readFileSync(lenient.summary.output!, "utf8"))).toEqual([entries[1]!, entries[2]!]);
  });

  test("index pass, then write pass: the output holds what was validated, even if a log changes in between", async () => {
    const dir = tempDir();
    const a = writeLogFile(dir, name(1), [entries[0]!, entries[1]!]);
    const b = writeLogFile(dir, name(2), [entries[2]!]);
    const files: string[] = [];
    const outDir = tempDir();
    let calls = 0;
    const options: ConsolidateOptions = {
      paths: [a, b],
      outDir,
      onFile: (path) => files.push(path),
      // Called for every entry of the index pass (3): swap b's log once it has been read.
      include: () => {
        if (++calls === 3) writeLogFile(dir, name(2), [entries[3]!]);
        return true;
      },
    };
    const summary = await consolidate(options);
    expect(calls).toBe(3);
    expect(parseControlLog(readFileSync(summary.output!, "utf8"))).toEqual([entries[0]!, entries[1]!, entries[2]!]);
    // Progress is told once per file, by the index pass (the write pass reads no log again).
    expect(files).toEqual([a, b]);
  });

  const e = () => JSON.parse(JSON.stringify(entryObject(entries[5]!)));
  const withChain = (ed: string, p256?: string) => {
    const o = e();
    o.device.sidewalkData.sidewalkED25519CertificateChain = ed;
    if (p256) o.device.sidewalkData.sidewalkP256R1CertificateChain = p256;
    return JSON.stringify({ controlLogs: [o] });
  };
  const mutate = (f: (o: any) => void) => {
    const o = e();
    f(o);
    return JSON.stringify({ controlLogs: [o] });
  };
  const at = "control log: controlLogs[0]";
  const invalid: [string, () => string, () => string][] = [
    ["not JSON", () => '{"controlLogs": [', () => "control log: truncated (the JSON ends unfinished after 17 characters)"],
    ["empty file", () => "", () => "control log: not valid JSON"],
    ["no controlLogs", () => "{}", () => 'control log: "controlLogs" is missing'],
    ["controlLogs not an array", () => '{"controlLogs": {}}', () => 'control log: "controlLogs" is not an array'],
    ["entry not an object", () => '{"controlLogs": [42]}', () => `${at} is not an object`],
    ["no version", () => mutate((o) => delete o.version), () => `${at}.version is missing`],
    ["other version", () => mutate((o) => (o.version = "3-0-0")), () => `${at}.version is "3-0-0"; only 4-0-1 is supported`],
    ["SMSN not hex", () => mutate((o) => (o.device.serialNumber = "z".repeat(64))), () => `${at}.device.serialNumber is not a 64-character hex SMSN`],
    ["SMSN short", () => mutate((o) => (o.device.serialNumber = o.device.serialNumber.slice(2))), () => `${at}.device.serialNumber is not a 64-character hex SMSN`],
    ["APID too long", () => mutate((o) => (o.device.productIdentifier.advertisedProductId = "pd251")), () => `${at}.device.productIdentifier.advertisedProductId: APID "pd251" has 5 characters`],
    ["APID missing", () => mutate((o) => delete o.device.productIdentifier), () => `${at}.device.productIdentifier is not an object`],
    ["label unknown", () => mutate((o) => (o.device.sidewalkData.label = "prod")), () => `${at}.device.sidewalkData.label is "prod"; expected production, preproduction or test`],
    ["chain missing", () => mutate((o) => delete o.device.sidewalkData.sidewalkP256R1CertificateChain), () => `${at}.device.sidewalkData.sidewalkP256R1CertificateChain is missing`],
    ["base64 broken", () => withChain(entries[5]!.ed25519Chain.slice(1)), () => `${at} Ed25519 chain: "controlLogs[0] Ed25519 chain" is not valid base64`],
    ["chain truncated", () => withChain(toBase64(fromBase64(entries[5]!.ed25519Chain).subarray(0, 500))), () => `${at} Ed25519 chain: chain.decode(ed25519): truncated`],
    ["device signature", () => withChain(flip(entries[5]!.ed25519Chain, 100)), () => `${at} Ed25519 chain: signature of certificate 0 (DEVICE) does not verify against DAK`],
    ["CA signature", () => withChain(entries[5]!.ed25519Chain, flip(entries[5]!.p256r1Chain, -1)), () => `${at} P-256 chain: signature of certificate 5 (AMAZON ROOT, serial`],
    ["serial mismatch", () => withChain(entries[6]!.ed25519Chain), () => `${at} Ed25519 chain: device serial ${entries[6]!.serialNumber} is not the entry's serialNumber ${entries[5]!.serialNumber}`],
    ["other device's P-256 chain", () => withChain(entries[5]!.ed25519Chain, entries[7]!.p256r1Chain), () => `${at} P-256 chain: device serial ${entries[7]!.serialNumber} is not`],
    ["production label on a test chain", () => mutate((o) => (o.device.sidewalkData.label = "production")), () => `${at} Ed25519 chain: label is production but the chain does not end at Amazon's production root`],
    ["test label on a production chain", () => JSON.stringify({ controlLogs: [{ ...entryObject(seedEntry), device: { ...(entryObject(seedEntry) as any).device, sidewalkData: { ...(entryObject(seedEntry) as any).device.sidewalkData, label: "test" } } }] }), () => `${at} Ed25519 chain: label is test but the chain ends at Amazon's production root`],
  ];

  test.each(invalid)("refuses %s: names the file and the reason, writes nothing", async (_, text, reason) => {
    const dir = tempDir();
    const good = writeLogFile(dir, name(1), [entries[0]!]);
    const bad = join(dir, name(2));
    writeFileSync(bad, text());
    const strict = await run({ paths: [dir] });
    expect(strict.written).toEqual([]);
    expect(strict.summary.invalid).toBe(1);
    expect(strict.summary.problems).toHaveLength(1);
    expect(strict.summary.problems[0]!.path).toBe(bad);
    expect(strict.summary.problems[0]!.reason).toStartWith(reason());
    const lenient = await run({ paths: [dir], skipInvalid: true });
    expect(parseControlLog(readFileSync(lenient.summary.output!, "utf8"))).toEqual([entries[0]!]);
    expect(readFileSync(good, "utf8")).toBe(formatControlLog([entries[0]!]));
  });

  test("reports every invalid file, not only the first", async () => {
    const dir = tempDir();
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, name(i)), "nope");
    writeLogFile(dir, name(9), [entries[0]!]);
    const { summary, written } = await run({ paths: [dir] });
    expect(written).toEqual([]);
    expect(summary.invalid).toBe(5);
    expect(summary.problems.map((p) => p.path).sort()).toEqual([0, 1, 2, 3, 4].map((i) => join(dir, name(i))));
  });

  test("nothing to consolidate: no output, empty paths reported", async () => {
    const dir = tempDir();
    const { summary, written } = await run({ paths: [dir] });
    expect(written).toEqual([]);
    expect(summary.problems).toEqual([{ kind: "empty", path: dir, reason: "no control logs here" }]);
  });

  test("an explicit output that exists is refused, not overwritten", async () => {
    const dir = tempDir();
    const input = writeLogFile(dir, name(1), [entries[0]!]);
    await expect(consolidate({ paths: [input], output: input })).rejects.toThrow(`${input} already exists`);
    expect(readFileSync(input, "utf8")).toBe(formatControlLog([entries[0]!]));
    const out = join(dir, "shift.json");
    const summary = await consolidate({ paths: [input], output: out });
    expect(summary.output).toBe(out);
  });

  test("a large consolidated input is streamed entry by entry with the same result", async () => {
    const dir = tempDir();
    const big = writeLogFile(dir, name(1), entries);
    const whole = await run({ paths: [big] });
    const streamed = await run({ paths: [big], streamThreshold: 100 });
    expect(readFileSync(streamed.summary.output!, "utf8")).toBe(readFileSync(whole.summary.output!, "utf8"));
    expect(streamed.summary.devices).toBe(40);
  });
});

describe("ControlLogScanner", () => {
  const scan = (text: string, chunk = 7) => {
    const scanner = new ControlLogScanner();
    const out: unknown[] = [];
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i += chunk) scanner.push(bytes.subarray(i, i + chunk), (raw) => out.push(raw));
    scanner.end();
    return out;
  };
  test("reads elements across chunk boundaries, strings with braces and escapes, other keys", () => {
    const doc = { meta: { a: [1, "}]"] }, controlLogs: [{ x: 'a"}\\' }, [1, 2], "s", 3, null, { y: { z: [] } }], tail: true };
    for (const chunk of [1, 2, 3, 5, 64]) expect(scan(JSON.stringify(doc, null, 1), chunk)).toEqual(doc.controlLogs);
    expect(scan('{"controlLogs":[]}')).toEqual([]);
  });
  test.each([
    ["", "control log: empty file at byte 0"],
    ["[]", "control log: expected '{' to open the document at byte 0"],
    ['{"controlLogs": [{}', "control log: truncated at byte 19"],
    ['{"controlLogs": [{}] } x', "control log: unexpected data after the document at byte 23"],
    ['{"controlLogs": [{} {}]}', "control log: expected ',' or ']' after an entry at byte 20"],
    ['{"controlLogs": [{"a": tru}]}', "control log: not valid JSON"],
    ['{"controlLogs": {}}', 'control log: "controlLogs" is not an array at byte 16'],
    ['{"other": 1}', 'control log: "controlLogs" is missing'],
    ['{"controlLogs": [], "controlLogs": []}', 'control log: "controlLogs" appears twice'],
  ])("refuses %j", (text, message) => {
    expect(() => scan(text)).toThrow(message);
  });
  test("readEntries streams a file above the threshold", () => {
    const dir = tempDir();
    const path = writeLogFile(dir, name(1), entries.slice(0, 3));
    const seen: unknown[] = [];
    readEntries(path, (raw) => seen.push(raw), 10);
    expect(seen).toEqual(entries.slice(0, 3).map(entryObject));
  });
});
