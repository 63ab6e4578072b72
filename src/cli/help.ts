// `--help` for every command: usage, description, sub-commands and flags, wrapped to 80
// columns, plain text (no colour codes, so it reads the same piped into a file or a pager).
// A command may group its flags (`sign` by mode); the rest are listed under "options".
import type { ArgDef, ArgsDef, CommandDef, CommandMeta } from "citty";
import { globalArgs } from "./args.ts";

const WIDTH = 80;
const NAME_COLUMN = 30;
const GROUPS = Symbol("helpGroups");

type Grouped = CommandDef & { [GROUPS]?: [string, ArgsDef][] };

/** Attaches the flag groups `--help` shows, in order. */
export function withHelpGroups<T extends CommandDef<any>>(cmd: T, groups: [string, ArgsDef][]): T {
  (cmd as Grouped)[GROUPS] = groups;
  return cmd;
}

async function resolved<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** Words of `text` in lines of at most `width` characters. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}

/** How a flag is written: `-o <value>`, `-p, --product <value>`, `--json`. */
function flagName(name: string, def: ArgDef): string {
  const aliases = "alias" in def && def.alias ? ([] as string[]).concat(def.alias) : [];
  const spell = (n: string) => (n.length === 1 ? `-${n}` : `--${n}`);
  const names = [...aliases.filter((a) => a.length === 1), name, ...aliases.filter((a) => a.length > 1)].map(spell);
  return names.join(", ") + (def.type === "boolean" ? "" : " <value>");
}

function describe(def: ArgDef): string {
  let text = def.description ?? "";
  if ("required" in def && def.required) text += " (required)";
  if ("default" in def && def.default !== undefined && def.default !== false) text += ` (default: ${def.default})`;
  return text;
}

function flagLines(args: ArgsDef): string[] {
  const out: string[] = [];
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const left = `  ${flagName(name, def)}`;
    const descWidth = WIDTH - NAME_COLUMN - 2;
    const desc = wrap(describe(def), descWidth);
    if (left.length <= NAME_COLUMN) {
      out.push(`${left.padEnd(NAME_COLUMN)}  ${desc[0]}`.trimEnd());
    } else {
      out.push(left);
      out.push(`${"".padEnd(NAME_COLUMN)}  ${desc[0]}`.trimEnd());
    }
    for (const more of desc.slice(1)) out.push(`${"".padEnd(NAME_COLUMN)}  ${more}`);
  }
  return out;
}

export async function renderHelp(cmd: CommandDef<any>, path: string[]): Promise<string> {
  const meta = ((await resolved(cmd.meta)) ?? {}) as CommandMeta;
  const args = ((await resolved(cmd.args)) ?? {}) as ArgsDef;
  const subs = (await resolved(cmd.subCommands)) as Record<string, unknown> | undefined;
  const name = ["swtool", ...path].join(" ");
  const positionals = Object.entries(args).filter(([, d]) => d.type === "positional").map(([n, d]) => ("required" in d && d.required === false ? `[${n}]` : `<${n}>`));
  const lines: string[] = [];
  if (meta.description) lines.push(...wrap(meta.description, WIDTH), "");
  const usage = [name, subs ? "<command>" : "", Object.keys(args).length > positionals.length ? "[options]" : "", ...positionals].filter(Boolean).join(" ");
  lines.push(`Usage: ${usage}`);
  if (subs) {
    lines.push("", "Commands:");
    for (const [sub, def] of Object.entries(subs)) {
      const d = (await resolved(def as CommandDef)) as CommandDef;
      const m = ((await resolved(d.meta)) ?? {}) as CommandMeta;
      if (m.hidden) continue;
      const desc = wrap(m.description ?? "", WIDTH - 18);
      lines.push(`  ${sub.padEnd(14)}  ${desc[0]}`.trimEnd(), ...desc.slice(1).map((l) => `${"".padEnd(18)}${l}`));
    }
  }
  const described = Object.entries(args).filter(([, d]) => d.type === "positional" && d.description);
  if (described.length) {
    lines.push("", "arguments:");
    for (const [n, d] of described) {
      const desc = wrap(d.description!, WIDTH - NAME_COLUMN - 2);
      lines.push(`  ${`<${n}>`.padEnd(NAME_COLUMN - 2)}  ${desc[0]}`, ...desc.slice(1).map((l) => `${"".padEnd(NAME_COLUMN)}  ${l}`));
    }
  }
  const groups = (cmd as Grouped)[GROUPS] ?? [];
  const grouped = new Set(groups.flatMap(([, g]) => Object.keys(g)));
  const rest = Object.fromEntries(Object.entries(args).filter(([n, d]) => !grouped.has(n) && d.type !== "positional")) as ArgsDef;
  for (const [title, group] of [...groups, ["options", rest] as [string, ArgsDef]]) {
    const body = flagLines(Object.fromEntries(Object.keys(group).filter((n) => n in args).map((n) => [n, args[n]!])) as ArgsDef);
    if (body.length) lines.push("", `${title}:`, ...body);
  }
  lines.push("", "global:", ...flagLines({ ...globalArgs, help: { type: "boolean", alias: ["h"], description: "This help" }, version: { type: "boolean", alias: ["V"], description: "The version of swtool" } }));
  return lines.join("\n");
}
