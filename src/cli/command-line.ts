// This run's command line as the operator would type it again: the program as invoked (the
// compiled binary, or bun and the entry file when run from source), the command, and its
// arguments as the flag check spelled them (canonical names, so `--Pin` or `--dsn_template`
// are recognised by what reads the words), never a PIN (a stray --pin VALUE is dropped).

/** Bun's compiled executables run their entry file from this virtual folder. */
const COMPILED_ENTRY = /^(\/\$bunfs\/|[A-Z]:[\\/]~BUN[\\/])/;

/** `command`: e.g. ["sign"]; `args`: the command's canonical arguments (citty's rawArgs after checkFlags). */
export function thisCommandLine(command: readonly string[], args: readonly string[], argv: readonly string[] = process.argv, argv0: string = process.argv0): string[] {
  const program = COMPILED_ENTRY.test(argv[1] ?? "") ? [argv0] : argv.slice(0, 2);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === "--") {
      kept.push(...args.slice(i));
      break;
    }
    if (word === "--pin") i++;
    else if (!word.startsWith("--pin=")) kept.push(word);
  }
  return [...program, ...command, ...kept];
}
