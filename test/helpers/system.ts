// One home for what the tests ask of the machine: the openssl command (the reference every
// certificate and key is checked against) and a free TCP port on 127.0.0.1.

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout and stderr together, as a terminal would show them. */
  out: string;
}

export function openssl(...args: string[]): ToolResult {
  const p = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  const stdout = p.stdout.toString();
  const stderr = p.stderr.toString();
  return { code: p.exitCode ?? -1, stdout, stderr, out: stdout + stderr };
}

/** openssl's stdout; a failing openssl fails the test with its message. */
export function opensslOk(...args: string[]): string {
  const r = openssl(...args);
  if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

export { freePort } from "../../harness/net.ts";
