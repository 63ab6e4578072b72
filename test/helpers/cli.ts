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

/**
 * Simulated fixtures on TCP for one test file: `fixture(...flags)` starts a device simulator
 * and returns its socket:// port; `stopAll()` (in afterAll) ends every one.
 */
export function deviceFixtures() {
  const servers: ReturnType<typeof Bun.spawn>[] = [];
  return {
    async fixture(...args: string[]): Promise<string> {
      const { proc, first } = await spawnSwtoolServer(["device", "simulate", "--listen", "127.0.0.1:0", "--json", ...args]);
      servers.push(proc);
      return (first.ports as string[])[0]!;
    },
    async stopAll(): Promise<void> {
      for (const p of servers) p.kill();
      await Promise.all(servers.map((p) => p.exited));
    },
  };
}

/** Reads a process's stdout until `text` appears; returns what was read and the reader, still open. */
export async function readUntil(stdout: ReadableStream<Uint8Array>, text: string) {
  const reader = stdout.getReader();
  let seen = "";
  while (!seen.includes(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the process exited before printing ${JSON.stringify(text)}: ${seen}`);
    seen += new TextDecoder().decode(value);
  }
  return { seen, reader };
}
