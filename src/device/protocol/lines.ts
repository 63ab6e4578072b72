// Reading the Factory Diagnostic Firmware's output one line at a time. The firmware frames
// each answer as `{CERT <base64 piece>}`, `{CERT BASE64_MTU=n}`, `{CERT OK}` or
// `{CERT ERROR n}` (samples/sid_end_device/src/cli/sid_on_dev_cert_cli.c in sdk-sidewalk),
// printed through its logger, so a line may carry a log prefix and timestamp
// (`[00595275] <info> app: `), VT100 colour codes, a prompt and the echo of the command.
// Everything that is not a CERT token is kept as text for echo checks and banner detection.

export type CertToken =
  | { kind: "ok" }
  | { kind: "error"; code: number }
  | { kind: "mtu"; mtu: number }
  | { kind: "piece"; data: string };

export type DeviceLine =
  | { kind: "cert"; tokens: CertToken[]; text: string }
  /** Looks like a CERT answer but cannot be read: corrupted in transit. */
  | { kind: "garbled"; text: string }
  /** The shell refused the command line (unknown command, wrong parameter count). */
  | { kind: "shell-error"; text: string }
  | { kind: "text"; text: string };

// CSI sequences (colours, cursor moves, erase line), two-byte ESC sequences, stray control bytes.
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[@-_]/g;
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
const TOKEN = /\{CERT (?:OK|ERROR (-?\d{1,6})|BASE64_MTU=(\d{1,5})|<([A-Za-z0-9+/=]*)>)\}/g;
// Traces of a CERT token that did not parse (a flipped or lost character).
const CERT_TRACE = /\{CER|CERT|ERT [<OEB]|\{C[^ ]{0,3}T /;
const SHELL_ERROR = /command not found|wrong parameter count|unknown parameter|Syntax err/i;

/**
 * What a terminal would show for the line: colour codes dropped, a carriage return in the
 * middle (the shell redrawing its prompt) keeps only what was written after it.
 */
export function cleanLine(raw: string): string {
  let text = raw.replace(ANSI, "").replace(/\r+$/, "");
  const cr = text.lastIndexOf("\r");
  if (cr >= 0 && cr < text.length - 1) text = text.slice(cr + 1);
  return text.replace(CONTROL, "").replace(/\r/g, "");
}

export function classifyLine(raw: string): DeviceLine {
  const text = cleanLine(raw);
  const tokens: CertToken[] = [];
  let rest = "";
  let last = 0;
  for (const m of text.matchAll(TOKEN)) {
    rest += text.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[1] !== undefined) tokens.push({ kind: "error", code: Number(m[1]) });
    else if (m[2] !== undefined) tokens.push({ kind: "mtu", mtu: Number(m[2]) });
    else if (m[3] !== undefined) tokens.push({ kind: "piece", data: m[3] });
    else tokens.push({ kind: "ok" });
  }
  rest += text.slice(last);
  if (CERT_TRACE.test(rest)) return { kind: "garbled", text };
  if (tokens.length > 0) return { kind: "cert", tokens, text };
  if (SHELL_ERROR.test(text)) return { kind: "shell-error", text };
  return { kind: "text", text };
}

/**
 * The command a line echoes, when it is an echo: the shell prints its prompt (`--> `,
 * `uart:~$ `, or none) and then the characters it received, starting with `cert`.
 */
export function echoedCommand(text: string): string | undefined {
  const at = text.search(/(?:^|[\s>$#:])cert(?: |$)/);
  if (at < 0) return undefined;
  const start = text.indexOf("cert", at);
  // A log line that merely mentions the word (`<info> app: cert ...`) is not an echo.
  if (/<(?:info|dbg|debug|wrn|warning|err|error)>/.test(text.slice(0, start))) return undefined;
  return text.slice(start).trimEnd();
}

/** Quotes one argument the way the shell's argument parser reads it back. */
export function quoteArgument(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}

/** `cert chain write "..."`: the command words as they are, every argument quoted. */
export function formatCommand(words: string, args: readonly string[] = []): string {
  return [words, ...args.map(quoteArgument)].join(" ");
}
