// Finding and reading control logs for consolidate. PATH arguments are directories (searched
// recursively for C_CONTROL_LOG_*.txt, as the reference's glob would match), files, or glob
// patterns. Files are yielded one by one as the directory is read, never listed whole, and a
// large (already consolidated) log is read entry by entry (see stream-entries.ts), so memory
// does not grow with the number or the size of the logs.
import { existsSync, statSync, type Dirent } from "node:fs";
import { opendir, stat } from "node:fs/promises";
import { isAbsolute, join, sep } from "node:path";
import { UsageError } from "../lib/errors.ts";

/** What the reference consolidates from a directory: `C_CONTROL_LOG_*.txt`. */
export const CONTROL_LOG_GLOB_RE = /^C_CONTROL_LOG_.*\.txt$/;

const GLOB_CHARS = /[*?[{]/;

async function* walk(dir: string): AsyncGenerator<string> {
  const handle = await opendir(dir);
  for await (const entry of handle as AsyncIterable<Dirent>) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (CONTROL_LOG_GLOB_RE.test(entry.name)) {
      // A symbolic link to a log is followed; one to a directory is not (no loops).
      if (entry.isFile() || (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile())) yield path;
    }
  }
}

/** Splits a glob into the fixed directory it starts from and the pattern below it. */
function splitGlob(pattern: string): { base: string; rest: string } {
  const parts = pattern.split(/[\\/]/);
  const fixed: string[] = [];
  while (parts.length > 1 && !GLOB_CHARS.test(parts[0]!)) fixed.push(parts.shift()!);
  const base = fixed.length === 0 ? "." : fixed.join(sep) || sep;
  return { base: isAbsolute(pattern) && base === "" ? sep : base, rest: parts.join("/") };
}

/** Every control log file the PATH arguments name, each path once per argument. */
export async function* controlLogFiles(paths: string[], onEmpty: (path: string) => void = () => undefined): AsyncGenerator<string> {
  for (const path of paths) {
    let found = 0;
    if (existsSync(path)) {
      const st = statSync(path);
      if (st.isDirectory()) {
        for await (const file of walk(path)) {
          found++;
          yield file;
        }
      } else {
        found++;
        yield path;
      }
    } else if (GLOB_CHARS.test(path)) {
      const { base, rest } = splitGlob(path);
      if (existsSync(base)) {
        for await (const file of new Bun.Glob(rest).scan({ cwd: base, onlyFiles: true })) {
          found++;
          yield base === "." && !path.startsWith(".") ? file : join(base, file);
        }
      }
    } else {
      throw new UsageError(`${path} does not exist`, { advice: "give directories of control logs, control log files or glob patterns" });
    }
    if (found === 0) onEmpty(path);
  }
}
