// The control log writer: the reference's name and formatting, no overwrite on a name
// collision (also across processes), and no partial file after a crash.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTROL_LOG_FILE_RE, controlLogFileName, parseControlLog, type ControlLogEntry } from "../../src/controllog/format.ts";
import { controlLogEntryFor, writeControlLog, writeControlLogSync } from "../../src/controllog/writer.ts";
import { decodeChainBase64 } from "../../src/sidewalk/chain.ts";
import { fromHex } from "../../src/lib/bytes.ts";
import { seed } from "../helpers/vectors.ts";
import { makeDevice, makeEntry, makeTestLine, SEED_ENTRY, type TestLine } from "./fixtures.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const CHILD = join(import.meta.dir, "writer-child.ts");
const tempDir = () => scratchDir("cl");
const logsIn = (dir: string) => readdirSync(dir).filter((n) => CONTROL_LOG_FILE_RE.test(n)).sort();

const seedChains = {
  smsn: fromHex(seed.smsn.smsn_hex),
  ed25519: decodeChainBase64(seed.chain.ed25519.base64, "ed25519"),
  p256r1: decodeChainBase64(seed.chain.p256r1.base64, "p256r1"),
};

let line: TestLine;
let entry: ControlLogEntry;
beforeAll(async () => {
  line = makeTestLine();
  entry = await makeEntry(line);
});

describe("controlLogEntryFor", () => {
  test("builds the entry from a signed device", () => {
    expect(controlLogEntryFor(seedChains, "pd25", "production")).toEqual(SEED_ENTRY);
  });
  test("refuses a bad APID, a bad label and chains of another device", async () => {
    expect(() => controlLogEntryFor(seedChains, "pd2", "production")).toThrow('APID "pd2" has 3 characters; it must have exactly 4');
    expect(() => controlLogEntryFor(seedChains, "pd25", "prod" as never)).toThrow('control log label "prod" is not production, preproduction or test');
    const other = await makeDevice(line);
    expect(() => controlLogEntryFor({ ...seedChains, p256r1: other.p256r1 }, "pd25", "production")).toThrow(
      `the p256r1 chain's device serial ${Buffer.from(other.smsn).toString("hex")} is not the SMSN ${seed.smsn.smsn_hex}`,
    );
  });
});

describe("writeControlLog", () => {
  test("names and formats the file as the reference signing tool does", async () => {
    const dir = tempDir();
    const path = await writeControlLog(dir, [controlLogEntryFor(seedChains, "pd25", "production")], { now: new Date(2026, 10, 21, 10, 15, 0) });
    expect(path).toBe(join(dir, "C_CONTROL_LOG_20261121101500.txt"));
    // json.dumps(obj, indent=2) + "\n", key order as the reference writes it.
    expect(readFileSync(path, "utf8")).toBe(
      [
        "{",
        '  "controlLogs": [',
        "    {",
        '      "version": "4-0-1",',
        '      "device": {',
        `        "serialNumber": "${seed.smsn.smsn_hex}",`,
        '        "productIdentifier": {',
        '          "advertisedProductId": "pd25"',
        "        },",
        '        "sidewalkData": {',
        `          "sidewalkED25519CertificateChain": "${seed.chain.ed25519.base64}",`,
        `          "sidewalkP256R1CertificateChain": "${seed.chain.p256r1.base64}",`,
        '          "label": "production"',
        "        }",
        "      }",
        "    }",
        "  ]",
        "}",
        "",
      ].join("\n"),
    );
    expect(readdirSync(dir)).toEqual(["C_CONTROL_LOG_20261121101500.txt"]);
  });

  test("a collision within one second gets a numbered name, never an overwrite", async () => {
    const dir = tempDir();
    const now = new Date(2026, 0, 2, 3, 4, 5);
    const entries = [entry, await makeEntry(line), await makeEntry(line), await makeEntry(line)];
    const paths = [
      await writeControlLog(dir, [entries[0]!], { now }),
      writeControlLogSync(dir, [entries[1]!], { now }),
      await writeControlLog(dir, [entries[2]!], { now }),
      writeControlLogSync(dir, [entries[3]!], { now }),
    ];
    expect(paths).toEqual(["", "_2", "_3", "_4"].map((s) => join(dir, `C_CONTROL_LOG_20260102030405${s}.txt`)));
    paths.forEach((p, i) => expect(parseControlLog(readFileSync(p, "utf8"))).toEqual([entries[i]!]));
    expect(readdirSync(dir).sort()).toEqual(paths.map((p) => p.slice(dir.length + 1)).sort());
  });

  test("an existing file of that name, written by anyone, is kept as it is", async () => {
    const dir = tempDir();
    const now = new Date(2026, 0, 2, 3, 4, 5);
    writeFileSync(join(dir, controlLogFileName(now)), "not ours");
    const path = await writeControlLog(dir, [entry], { now });
    expect(path).toBe(join(dir, "C_CONTROL_LOG_20260102030405_2.txt"));
    expect(readFileSync(join(dir, controlLogFileName(now)), "utf8")).toBe("not ours");
  });

  test("several processes writing in the same second get distinct files", async () => {
    const dir = tempDir();
    const entriesFile = join(tempDir(), "entries.json");
    writeFileSync(entriesFile, JSON.stringify([entry]));
    const now = new Date(2026, 5, 6, 7, 8, 9).toISOString();
    const procs = Array.from({ length: 4 }, () =>
      Bun.spawn([process.execPath, CHILD, dir, entriesFile, "25", now], { stdout: "ignore", stderr: "pipe" }),
    );
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    const names = readdirSync(dir).sort();
    const expected = ["C_CONTROL_LOG_20260606070809.txt", ...Array.from({ length: 99 }, (_, i) => `C_CONTROL_LOG_20260606070809_${i + 2}.txt`)].sort();
    expect(names).toEqual(expected);
    for (const name of names) expect(parseControlLog(readFileSync(join(dir, name), "utf8"))).toEqual([entry]);
  });

  test("a writer killed mid-way leaves whole logs only", async () => {
    // Big logs (1,500 entries, about 2.5 MB) so the kill lands inside a write most times.
    const entries = Array.from({ length: 1500 }, () => entry);
    const entriesFile = join(tempDir(), "entries.json");
    writeFileSync(entriesFile, JSON.stringify(entries));
    for (let round = 0; round < 3; round++) {
      const dir = tempDir();
      const proc = Bun.spawn([process.execPath, CHILD, dir, entriesFile, "forever"], { stdout: "pipe", stderr: "ignore" });
      const reader = proc.stdout.getReader();
      await reader.read(); // "ready"
      while (logsIn(dir).length < 2 + round) await Bun.sleep(5);
      proc.kill("SIGKILL");
      await proc.exited;
      const logs = logsIn(dir);
      expect(logs.length).toBeGreaterThanOrEqual(2 + round);
      for (const name of logs) expect(parseControlLog(readFileSync(join(dir, name), "utf8")).length).toBe(1500);
      // Anything else is the hidden temporary file of the interrupted write.
      for (const name of readdirSync(dir).filter((n) => !CONTROL_LOG_FILE_RE.test(n))) expect(name).toMatch(/^\.swtool-\d+-[0-9a-f]{12}\.tmp$/);
    }
  });

  test("refuses an empty log and reports a missing directory", async () => {
    await expect(writeControlLog(tempDir(), [])).rejects.toThrow("a control log needs at least one device entry");
    const missing = join(tempDir(), "nope");
    await expect(writeControlLog(missing, [entry])).rejects.toThrow(`cannot create a file in ${missing}`);
    expect(() => writeControlLogSync(missing, [entry])).toThrow(`cannot create a file in ${missing}`);
  });
});
