// Words for a command line an operator copies into a shell: quoted for the platform's shell
// (POSIX sh: single quotes; Windows cmd.exe: double quotes with CommandLineToArgvW's
// backslash rule), left bare when nothing in them needs quoting.

const POSIX_BARE = /^[A-Za-z0-9_\-+=.,/:@%]+$/;
const WINDOWS_BARE = /^[A-Za-z0-9_\-+=.,/:@\\]+$/;

/** One word as POSIX sh reads it back unchanged. */
export function quotePosix(word: string): string {
  if (POSIX_BARE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** One word as a Windows program's argv (CommandLineToArgvW) reads it back unchanged from cmd.exe. */
export function quoteWindows(word: string): string {
  if (WINDOWS_BARE.test(word)) return word;
  // Backslashes are literal except before a quote: those (and the closing quote's) are doubled.
  const escaped = word.replace(/(\\*)"/g, (_, slashes: string) => `${slashes}${slashes}\\"`).replace(/(\\+)$/, "$1$1");
  return `"${escaped}"`;
}

/** A whole command line for this platform's shell. */
export function commandText(words: readonly string[], platform: NodeJS.Platform = process.platform): string {
  return words.map(platform === "win32" ? quoteWindows : quotePosix).join(" ");
}
