// Starting swtool as a long-running process (an HSM, device or x509 simulator) and waiting until
// it says it is ready: the `{"type":"ready",...}` line every simulator prints first with --json
// (or the first JSON line that `ready` accepts). Shared by the tests and the benchmarks, which run
// the compiled binary or the sources.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./vectors.ts";

export const BINARY = join(REPO, "dist", "swtool");

/** The compiled binary (dist/swtool, built by `npm test`) or, with fromSource or SWTOOL_FROM_SOURCE=1 or no binary, the sources under Bun. */
export function swtoolCommand(fromSource = false): string[] {
  if (fromSource || process.env.SWTOOL_FROM_SOURCE === "1" || !existsSync(BINARY)) return [process.execPath, join(REPO, "src", "main.ts")];
  return [BINARY];
}

export interface SpawnedSwtool {
  proc: ReturnType<typeof Bun.spawn> & { stdout: ReadableStream<Uint8Array> };
  /** The JSON line that said it is ready. */
  first: Record<string, unknown>;
  pid: number;
  stop(): Promise<number>;
}

export async function spawnSwtool(
  args: string[],
  options: { fromSource?: boolean; ready?: (line: Record<string, unknown>) => boolean; stderr?: "pipe" | "inherit" | "ignore" } = {},
): Promise<SpawnedSwtool> {
  const proc = Bun.spawn([...swtoolCommand(options.fromSource), ...args], {
    stdout: "pipe",
    stderr: options.stderr ?? "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  }) as SpawnedSwtool["proc"];
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const newline = text.indexOf("\n");
    if (newline >= 0) {
      const line = text.slice(0, newline);
      text = text.slice(newline + 1);
      let parsed: Record<string, unknown> | undefined;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = undefined;
      }
      // Without a `ready` of its own, the first JSON line must be the simulator's ready line.
      if (parsed && !options.ready && parsed.type !== "ready") {
        proc.kill();
        throw new Error(`swtool ${args.join(" ")} printed ${line} before its {"type":"ready"} line`);
      }
      if (parsed && (!options.ready || options.ready(parsed))) {
        // Keep draining stdout (events) so the pipe never fills and blocks the simulator.
        void (async () => {
          while (!(await reader.read()).done);
        })().catch(() => {});
        return { proc, first: parsed, pid: proc.pid, stop: async () => (proc.kill("SIGINT"), await proc.exited) };
      }
      continue;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`swtool ${args.join(" ")} exited before it was ready`);
    text += decoder.decode(value, { stream: true });
  }
}
