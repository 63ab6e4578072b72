// This process's command line as the operator would type it again: the program as invoked
// (the compiled binary, or bun and the entry file when run from source) and its arguments,
// never a PIN (swtool takes none on the command line; a stray --pin VALUE is dropped).

/** Bun's compiled executables run their entry file from this virtual folder. */
const COMPILED_ENTRY = /^(\/\$bunfs\/|[A-Z]:[\\/]~BUN[\\/])/;

export function thisCommandLine(argv: readonly string[] = process.argv, argv0: string = process.argv0): string[] {
  const program = COMPILED_ENTRY.test(argv[1] ?? "") ? [argv0] : argv.slice(0, 2);
  const args: string[] = [];
  for (let i = 2; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === "--pin") i++;
    else if (!word.startsWith("--pin=")) args.push(word);
  }
  return [...program, ...args];
}
