// A short run of the parser fuzzer (bench/fuzz.ts runs 100,000 inputs), in this process: every
// malformed input is refused with a swtool error, none with an uncaught exception.
import { expect, test } from "bun:test";
import { fuzzParsers } from "../../harness/fuzz.ts";

test("parsers refuse 5,000 random and mutated inputs with swtool errors only", () => {
  const r = fuzzParsers(5000);
  expect([...r.crashes]).toEqual([]);
  expect(r.iterations).toBe(5000);
  // Nearly every mutated input is malformed; a parser that accepted them all would be broken.
  expect(r.refused).toBeGreaterThan(2500);
});
