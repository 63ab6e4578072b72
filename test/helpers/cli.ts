// Runs swtool as a real process: the compiled binary (dist/swtool, built by `npm test`) or,
// when SWTOOL_FROM_SOURCE=1, the sources under Bun.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./vectors.ts";

export const BINARY = join(REPO, "dist", "swtool");

export function swtoolCommand(): string[] {
  if (process.env.SWTOOL_FROM_SOURCE === "1" || !existsSync(BINARY)) return [process.execPath, join(REPO, "src", "main.ts")];
  return [BINARY];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function swtool(args: string[], options: { env?: Record<string, string>; cwd?: string; stdin?: string } = {}): Promise<CliResult> {
  const proc = Bun.spawn([...swtoolCommand(), ...args], {
    cwd: options.cwd ?? REPO,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Starts a long-running swtool (a simulator) and returns it with its first stdout line as JSON. */
export async function spawnSwtoolServer(args: string[]): Promise<{ proc: ReturnType<typeof Bun.spawn>; first: Record<string, unknown> }> {
  const proc = Bun.spawn([...swtoolCommand(), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return { proc, first: JSON.parse(text.split("\n")[0]!) };
}
