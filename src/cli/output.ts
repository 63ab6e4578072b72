// Output for every command: human text through consola on stderr/stdout, or, with the global
// --json flag, exactly one JSON document (or one event per line) on stdout for scripts and MES.
import { consola, LogLevels } from "consola";
import { onUnprotectedFile } from "../lib/atomic.ts";
import { onScratchDirLeft } from "../lib/scratch-dir.ts";

export const output: {
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  /** With --json, the record an error ends the run with; a command with its own event schema (sign) sets it. */
  errorRecord?: (error: { message: string; advice?: string | undefined; exitCode: number }) => Record<string, unknown>;
} = {
  json: false,
  verbose: false,
  quiet: false,
};

export function configureOutput(flags: { json: boolean; verbose: boolean; quiet: boolean }): void {
  Object.assign(output, flags);
  consola.level = flags.quiet ? LogLevels.warn : flags.verbose ? LogLevels.debug : LogLevels.info;
  // Keep stdout for results (and JSON); progress and diagnostics go to stderr.
  consola.options.stdout = process.stderr;
  consola.options.stderr = process.stderr;
  // Windows: a key file that could not get an owner-only ACL is said so, with what it has.
  onScratchDirLeft((dir, problem) => consola.debug(`could not remove the scratch folder ${dir} (${problem}); it can be deleted by hand`));
  onUnprotectedFile((path, problem) => consola.warn(`${path} is not private to this user: ${problem}; other accounts on this PC may read it (keep key files on an NTFS disk)`));
}

/** Prints a command's result: `human()` for people, `data` as JSON with --json. */
export function printResult(data: unknown, human: () => void): void {
  if (output.json) process.stdout.write(JSON.stringify(data, null, 2) + "\n");
  else human();
}

/** One machine-readable event per line (--json), e.g. for a factory MES. */
export function emitEvent(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + "\n");
}

/** A plain line on stdout (results people and scripts read). */
export function println(line = ""): void {
  process.stdout.write(line + "\n");
}

export { consola as log };
