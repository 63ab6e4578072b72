// Runs swtool as a real process: the compiled binary (dist/swtool, built by `npm test`) or,
// when SWTOOL_FROM_SOURCE=1, the sources under Bun.
import { spawnSwtool, swtoolCommand } from "../../harness/process.ts";
import { REPO } from "./vectors.ts";

export { BINARY, swtoolCommand } from "../../harness/process.ts";

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
  const { proc, first } = await spawnSwtool(args);
  return { proc, first };
}
