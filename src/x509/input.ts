// Where `swtool x509` reads its inputs: a file path, `-` for standard input, or the value itself
// (hex or PEM text typed or pasted on the command line).
import { existsSync, readFileSync, statSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";

const LITERAL = /^(?:[0-9a-fA-F:\s]+|[\s\S]*-----BEGIN [\s\S]*)$/;

export function readInput(arg: string, what: string): Uint8Array {
  if (arg === "-") return new Uint8Array(readFileSync(0));
  if (existsSync(arg)) {
    if (statSync(arg).isDirectory()) throw new UsageError(`${what}: ${arg} is a directory, not a file`);
    return new Uint8Array(readFileSync(arg));
  }
  if (LITERAL.test(arg)) return new TextEncoder().encode(arg);
  throw new UsageError(`${what}: file not found: ${arg}`, { advice: "give a file path, - for standard input, or the key as hex" });
}
