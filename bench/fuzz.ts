// Fuzzes every parser with 100,000 random and mutated inputs (harness/fuzz.ts) and reports any
// exception that is not one of swtool's own errors.
// Usage: bun bench/fuzz.ts [iterations=100000]
import { fuzzParsers } from "../harness/fuzz.ts";

const r = fuzzParsers(Number(process.argv[2] ?? 100_000));
console.log(`fuzz: ${r.iterations} inputs over ${r.parsers} parsers in ${r.seconds.toFixed(1)} s (${Math.round(r.iterations / r.seconds)}/s); ${r.refused} refused with a clear error`);
for (const [name, message] of r.crashes) console.log(`  UNCAUGHT in ${name}: ${message}`);
console.log(r.crashes.size === 0 ? "fuzz: no uncaught exception (target: none)" : `fuzz: ${r.crashes.size} parsers threw uncaught exceptions`);
process.exit(r.crashes.size === 0 ? 0 : 1);
