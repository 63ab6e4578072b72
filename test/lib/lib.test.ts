// The ground floor: helpers every layer may use.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { closest } from "../../src/lib/closest.ts";
import { findPemBlocks, toPem } from "../../src/lib/pem.ts";
import { sleep } from "../../src/lib/sleep.ts";
import { REPO } from "../helpers/vectors.ts";

describe("closest", () => {
  test("finds a typo, ignoring case and _/-", () => {
    expect(closest("ecdsa_cs", ["eddsa-csr", "ecdsa-csr", "output"])).toBe("ecdsa-csr");
    expect(closest("Control_Log_Dir", ["control-log-dir"])).toBe("control-log-dir");
  });
  test("offers nothing when no candidate is near", () => {
    expect(closest("zzzzzz", ["eddsa-csr", "ecdsa-csr"])).toBeUndefined();
    expect(closest("x", [])).toBeUndefined();
  });
});

describe("sleep", () => {
  test("is the tree's one sleep: no other module waits with its own setTimeout promise", () => {
    const own = /new Promise(<void>)?\(\(?\s*(\w+)\s*\)?\s*=>\s*setTimeout\(\s*\2\s*,/;
    const found = [...new Bun.Glob("src/**/*.ts").scanSync({ cwd: REPO })].filter((f) => own.test(readFileSync(join(REPO, f), "utf8")));
    expect(found).toEqual([]);
  });
  test("waits about the time asked", async () => {
    const start = performance.now();
    await sleep(30);
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
  });
  test("ends at once when the signal aborts, without throwing", async () => {
    const stop = new AbortController();
    const start = performance.now();
    const waiting = sleep(60_000, stop.signal);
    setTimeout(() => stop.abort(), 10);
    await waiting;
    expect(performance.now() - start).toBeLessThan(5_000);
  });
  test("an aborted signal or a non-positive time returns at once", async () => {
    const stop = new AbortController();
    stop.abort();
    const start = performance.now();
    await sleep(60_000, stop.signal);
    await sleep(-5);
    expect(performance.now() - start).toBeLessThan(1_000);
  });
});

describe("PEM", () => {
  const der = Uint8Array.from({ length: 100 }, (_, i) => i);
  test("writes 64-character lines and reads blocks back through console noise, CR LF and NULs", () => {
    const pem = toPem("PUBLIC KEY", der);
    expect(pem.split("\n").map((l) => l.length)).toEqual([26, 64, 64, 8, 24, 0]);
    const [begin, first, ...rest] = pem.split("\n");
    const noisy = `uart> dump\r\n${[begin, `${first!.slice(0, 10)}\0 ${first!.slice(10)}`, ...rest].join("\r\n")}uart> ${toPem("CERTIFICATE", der.slice(0, 3))}`;
    expect(findPemBlocks(noisy).map((b) => [b.label, Array.from(b.der)])).toEqual([["PUBLIC KEY", Array.from(der)], ["CERTIFICATE", [0, 1, 2]]]);
  });
  test("a BEGIN without its END is refused as truncated, naming the field", () => {
    const pem = toPem("CERTIFICATE", der);
    expect(() => findPemBlocks(pem + pem.slice(0, 40), "ca.pem")).toThrow('ca.pem: "-----BEGIN CERTIFICATE-----" has no matching END line (truncated copy?)');
  });
});
