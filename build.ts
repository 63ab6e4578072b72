// Builds the single-file swtool binaries: dist/swtool (linux-x64) and dist/swtool.exe (windows-x64).
// Usage: bun build.ts [--target linux|windows|all]   (default: all)
import { statSync } from "node:fs";

const targets = {
  linux: { target: "bun-linux-x64", outfile: "dist/swtool" },
  windows: { target: "bun-windows-x64", outfile: "dist/swtool.exe" },
} as const;

const which = process.argv.includes("--target") ? process.argv[process.argv.indexOf("--target") + 1] : "all";
const chosen = which === "all" ? (Object.keys(targets) as (keyof typeof targets)[]) : [which as keyof typeof targets];

for (const name of chosen) {
  const t = targets[name];
  if (!t) throw new Error(`unknown target ${which}; use linux, windows or all`);
  const started = performance.now();
  const proc = Bun.spawnSync(
    [process.execPath, "build", "--compile", "--minify-syntax", "--sourcemap=none", `--target=${t.target}`, "src/main.ts", "src/controllog/verify-worker.ts", "--outfile", t.outfile],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (proc.exitCode !== 0) {
    process.stderr.write(proc.stderr.toString() + proc.stdout.toString());
    process.exit(proc.exitCode ?? 1);
  }
  const mb = (statSync(t.outfile).size / 1024 / 1024).toFixed(1);
  console.log(`${t.outfile.padEnd(18)} ${t.target.padEnd(16)} ${mb} MiB  (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
