// Commands printed for a board that stored its identity but whose control log could not be
// written, made from the run's command line (program first, no PIN), so that the operator
// runs exactly what the line would: `swtool ledger write-log` (the log from the entry the
// ledger kept, no new signature), or failing that the line's own `swtool sign` for that
// board's port and DSN alone.
import { commandText } from "../lib/shell-words.ts";

/** Line flags that pick fixtures, DSNs or the count: replaced for the one board (with their value). */
const REPLACED_WITH_VALUE = new Set(["--port", "--dsn", "-D", "--dsn-file", "--dsn-template", "--dsn-start", "--count", "--pin"]);
/** Line switches that make no sense for one given board. */
const REPLACED_SWITCHES = new Set(["--dsn-scan", "--allow-missing-fixtures"]);

/** The run's words without the line's choice of fixtures, DSNs and count (and never a PIN). */
function withoutLineChoice(commandLine: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < commandLine.length; i++) {
    const word = commandLine[i]!;
    if (word === "--") {
      kept.push(...commandLine.slice(i));
      break;
    }
    const name = word.startsWith("--") ? word.split("=")[0]! : word;
    if (REPLACED_SWITCHES.has(name)) continue;
    if (REPLACED_WITH_VALUE.has(name)) {
      if (!word.includes("=")) i++;
      continue;
    }
    kept.push(word);
  }
  return kept;
}

/** `swtool sign <the line's flags> --port PORT --dsn DSN --count 1`, quoted for this platform's shell. */
export function reprovisionCommand(commandLine: readonly string[], board: { port: string; dsn: string }, platform: NodeJS.Platform = process.platform): string {
  const words = withoutLineChoice(commandLine);
  const end = words.indexOf("--");
  const added = ["--port", board.port, "--dsn", board.dsn, "--count", "1"];
  if (end >= 0) words.splice(end, 0, ...added);
  else words.push(...added);
  return commandText(words, platform);
}

/** `swtool ledger write-log --dsn DSN --ledger L --control_log_dir D` with the run's program and ledger password file. */
export function writeLogCommand(commandLine: readonly string[], o: { dsn: string; ledger: string; controlLogDir: string }, platform: NodeJS.Platform = process.platform): string {
  const sign = commandLine.indexOf("sign");
  const program = sign > 0 ? commandLine.slice(0, sign) : commandLine.slice(0, 1);
  const words = [...program, "ledger", "write-log", "--dsn", o.dsn, "--ledger", o.ledger];
  const password = commandLine.findIndex((w) => w === "--ledger-password-file" || w.startsWith("--ledger-password-file="));
  if (password >= 0) words.push(...(commandLine[password]!.includes("=") ? [commandLine[password]!] : commandLine.slice(password, password + 2)));
  words.push("--control_log_dir", o.controlLogDir);
  return commandText(words, platform);
}
