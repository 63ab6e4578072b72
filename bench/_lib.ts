// Shared by the benchmarks: a simulator in its own process (as a real connector would be),
// peak memory of a process, and a formatted figure line.
import { readFileSync } from "node:fs";
import { spawnSwtool } from "../harness/process.ts";

export { REPO } from "../harness/vectors.ts";

/** VmHWM (peak resident memory) of a process, in MiB. */
export function peakRssMb(pid: number | "self"): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Starts `swtool hsm simulate` from source on a free port and returns its URL. */
export async function spawnHsmSimulator(latency: "none" | "yubihsm2") {
  const sim = await spawnSwtool(["hsm", "simulate", "--listen", "127.0.0.1:0", "--latency", latency, "--json"], { fromSource: true, stderr: "inherit" });
  return { url: sim.first.url as string, pid: sim.pid, stop: sim.stop };
}

/** `--name VALUE` from the command line as a number, or `fallback`. */
export function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? Number(process.argv[i + 1]) : fallback;
}
