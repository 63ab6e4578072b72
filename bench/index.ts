// Runs every benchmark under bench/ in turn (bench/soak.ts only with --soak, bench/factory.ts
// only with --factory or by name: they take minutes) and prints their figures.
// Usage: bun run bench [-- name ...]   e.g. `bun run bench -- fuzz hsm`
import { readdirSync } from "node:fs";
import { join } from "node:path";

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const soak = process.argv.includes("--soak");
const factory = process.argv.includes("--factory") || wanted.includes("factory");
const files = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.startsWith("_"))
  .filter((f) => (soak ? true : f !== "soak.ts"))
  .filter((f) => (factory ? true : f !== "factory.ts"))
  .filter((f) => wanted.length === 0 || wanted.includes(f.replace(/\.ts$/, "")));

let failed = 0;
for (const file of files) {
  console.log(`\n== bench/${file}`);
  const proc = Bun.spawnSync([process.execPath, join(import.meta.dir, file)], { stdout: "inherit", stderr: "inherit" });
  if (proc.exitCode !== 0) {
    failed++;
    console.log(`bench/${file} exited ${proc.exitCode}`);
  }
}
process.exit(failed ? 1 : 0);
