// Runs the citty command tree with what citty leaves out: flag checking with suggestions
// (typographic dashes pasted from documents included), underscore/kebab spellings, global
// flags anywhere, help, and the exit-code contract (0 ok, 1 failed, 2 usage).
import { runCommand, type ArgsDef, type CommandDef } from "citty";
import { closest } from "../lib/closest.ts";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import { globalArgs } from "./args.ts";
import { renderHelp } from "./help.ts";
import { eventSchemaText } from "./events.ts";
import { configureOutput, output } from "./output.ts";

/** Dash look-alikes that word processors put where `--` was typed. */
const TYPOGRAPHIC_DASHES: Record<string, string> = {
  "\u2014": "EM DASH",
  "\u2013": "EN DASH",
  "\u2012": "FIGURE DASH",
  "\u2015": "HORIZONTAL BAR",
  "\u2212": "MINUS SIGN",
  "\u2010": "HYPHEN",
  "\u2011": "NON-BREAKING HYPHEN",
  "\ufe58": "SMALL EM DASH",
  "\uff0d": "FULLWIDTH HYPHEN-MINUS",
};

const normalise = (name: string) => name.toLowerCase().replace(/_/g, "-");

async function resolve<T>(value: T | Promise<T> | (() => T) | (() => Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

interface FlagSpec {
  canonical: string;
  type: string | undefined;
}

function flagTable(args: ArgsDef): Map<string, FlagSpec> {
  const table = new Map<string, FlagSpec>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const spec = { canonical: name, type: def.type };
    table.set(normalise(name), spec);
    const aliases = "alias" in def && def.alias ? ([] as string[]).concat(def.alias) : [];
    for (const a of aliases) table.set(a.length === 1 ? a : normalise(a), spec);
  }
  return table;
}

function commandPath(path: string[]): string {
  return ["swtool", ...path].join(" ");
}

/**
 * Checks every flag against the command's definition and rewrites each to its canonical
 * spelling, so `--ecdsa-csr`, `--ecdsa_csr` and `--ECDSA_CSR` all mean the same.
 */
export function checkFlags(argv: string[], args: ArgsDef, path: string[]): string[] {
  const table = flagTable(args);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const dash = [...token][0];
    if (dash && TYPOGRAPHIC_DASHES[dash]) {
      const rest = token.replace(/^[\u2010-\u2015\u2212\ufe58\uff0d-]+/, "");
      throw new UsageError(
        `"${token}" starts with a typographic dash (U+${dash.codePointAt(0)!.toString(16).toUpperCase()} ${TYPOGRAPHIC_DASHES[dash]}), not "--"; it was probably copied from a document`,
        { advice: `type it with two ASCII hyphens: --${rest.split("=")[0]}` },
      );
    }
    if (!token.startsWith("-") || token === "-" || /^-\d/.test(token)) {
      out.push(token);
      continue;
    }
    const long = token.startsWith("--");
    const body = token.slice(long ? 2 : 1);
    const eq = body.indexOf("=");
    const rawName = eq >= 0 ? body.slice(0, eq) : body;
    const value = eq >= 0 ? body.slice(eq) : "";
    let spec = table.get(long ? normalise(rawName) : rawName);
    if (!spec && long && normalise(rawName).startsWith("no-")) {
      const positive = table.get(normalise(rawName).slice(3));
      if (positive?.type === "boolean") {
        out.push(`--no-${positive.canonical}`);
        continue;
      }
    }
    if (!spec) {
      const names = [...new Set([...table.values()].map((s) => s.canonical))];
      const guess = long ? closest(rawName, names) : undefined;
      throw new UsageError(`unknown flag ${long ? "--" : "-"}${rawName} for \`${commandPath(path)}\``, {
        advice: guess ? `did you mean --${guess}?` : `see \`${commandPath(path)} --help\``,
      });
    }
    out.push(`--${spec.canonical}${value}`);
    // A string flag's value may begin with "-" (base64 never does, but a path might).
    if (spec.type !== "boolean" && !value && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

function takeGlobalFlags(argv: string[]): { rest: string[]; json: boolean; verbose: boolean; quiet: boolean; help: boolean; version: boolean } {
  const flags = { json: false, verbose: false, quiet: false, help: false, version: false };
  const rest: string[] = [];
  let passthrough = false;
  for (const token of argv) {
    if (passthrough || token === "--") {
      passthrough = true;
      rest.push(token);
      continue;
    }
    // -V is the version as in Amazon's sid_signing_tool (`swtool sign -V`); -v is --verbose.
    const name = token === "-h" ? "help" : token === "-v" ? "verbose" : token === "-V" ? "version" : token.startsWith("--") ? normalise(token.slice(2)) : "";
    if (name === "json" || name === "verbose" || name === "quiet" || name === "help" || name === "version") flags[name] = true;
    else rest.push(token);
  }
  return { rest, ...flags };
}

export interface RunOptions {
  version: string;
}

/** Runs the CLI and returns the process exit code. */
export async function runCli(root: CommandDef, argv: string[], options: RunOptions): Promise<number> {
  const { rest, help, version, ...flags } = takeGlobalFlags(argv);
  configureOutput(flags);
  try {
    if (version) {
      process.stdout.write(`swtool ${options.version}\n`);
      return 0;
    }
    // Needs none of sign's required flags: answered before they are checked.
    if (rest[0] === "sign" && rest.includes("--json-schema")) {
      process.stdout.write(eventSchemaText());
      return 0;
    }
    // Walk down the sub-command tree.
    const path: string[] = [];
    let cmd = root;
    let i = 0;
    for (; i < rest.length; i++) {
      const subs = await resolve(cmd.subCommands);
      const token = rest[i]!;
      if (!subs || token.startsWith("-")) break;
      const sub = subs[token];
      if (!sub) {
        const guess = closest(token, Object.keys(subs));
        throw new UsageError(`unknown command \`${token}\` for \`${commandPath(path)}\``, {
          advice: guess ? `did you mean \`${commandPath([...path, guess])}\`?` : `see \`${commandPath(path)} --help\``,
        });
      }
      cmd = (await resolve(sub)) as CommandDef;
      path.push(token);
    }
    const args = ((await resolve(cmd.args)) ?? {}) as ArgsDef;
    if (help || (!cmd.run && (await resolve(cmd.subCommands)))) {
      process.stdout.write((await renderHelp(cmd, path)) + "\n");
      return help ? 0 : 2;
    }
    const cleaned = checkFlags(rest.slice(i), { ...args, ...globalArgs }, path);
    await runCommand(cmd, { rawArgs: cleaned });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    return reportError(error);
  }
}

/** Shows an error as message and advice (a stack only with --verbose); returns the exit code. */
export function reportError(error: unknown): number {
  let err: SwtoolError;
  if (error instanceof SwtoolError) err = error;
  else if (error instanceof Error && error.name === "CLIError") err = new UsageError(error.message.replace(/\x1b\[[0-9;]*m/g, ""));
  else {
    const message = error instanceof Error ? error.message : String(error);
    err = new SwtoolError(`internal error: ${message}`, { cause: error, advice: "please report this with the command line you used (without the PIN)" });
  }
  if (output.json) {
    const record = output.errorRecord?.(err) ?? { ok: false, error: { type: err.name, message: err.message, advice: err.advice, exitCode: err.exitCode } };
    process.stdout.write(JSON.stringify(record) + "\n");
  }
  process.stderr.write(`error: ${err.message}\n`);
  if (err.advice) process.stderr.write(`  fix: ${err.advice}\n`);
  if (output.verbose && err.stack) process.stderr.write(`${(err.cause as Error | undefined)?.stack ?? err.stack}\n`);
  return err.exitCode;
}
