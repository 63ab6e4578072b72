// Where each device's DSN comes from: one `--dsn`, a file of DSNs (`--dsn-file`, one per
// line, consumed in order, those already provisioned skipped), or a template with a counter
// (`--dsn-template 'SN{seq:7}' --dsn-start 1`) whose numbers the ledger never repeats.
import { readFileSync } from "node:fs";
import { UsageError } from "../lib/errors.ts";
import { validateDsn } from "../sidewalk/smsn.ts";
import type { Ledger } from "../ledger/ledger.ts";

export interface DsnSource {
  /** The next DSN, or undefined when the source is used up. */
  next(): Promise<string | undefined>;
  readonly description: string;
  /** True once next() can only return undefined (the line then stops instead of waiting). */
  readonly exhausted?: boolean;
  /** One DSN given by hand: when another station holds it, it is refused rather than replaced by the next. */
  readonly single?: boolean;
}

export function fixedDsn(dsn: string): DsnSource {
  const value = validateDsn(dsn);
  let used = false;
  return {
    description: `DSN ${value}`,
    single: true,
    get exhausted() {
      return used;
    },
    async next() {
      if (used) return undefined;
      used = true;
      return value;
    },
  };
}

export function dsnFile(path: string, ledger?: Ledger): DsnSource {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(`cannot read the DSN file ${path}: ${(e as Error).message}`, { advice: "give a text file with one DSN per line" });
  }
  const dsns: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    try {
      dsns.push(validateDsn(line));
    } catch (e) {
      throw new UsageError(`${path}:${i + 1}: ${(e as Error).message}`, { advice: "fix or remove that line" });
    }
  });
  const seen = new Set<string>();
  for (const d of dsns) {
    if (seen.has(d)) throw new UsageError(`${path}: DSN ${d} appears twice`, { advice: "every device needs its own DSN" });
    seen.add(d);
  }
  let index = 0;
  const take = async (): Promise<string | undefined> => {
    while (index < dsns.length) {
      const dsn = dsns[index]!;
      // Another line PC may hold it (in progress): the ledger's claim refuses it then, and the line asks again.
      const provisioned = await ledger?.isProvisioned({ dsn });
      // Moved past only once the ledger answered: a retried call asks about the same DSN.
      index++;
      if (!provisioned) return dsn;
    }
    return undefined;
  };
  // One call at a time: two ports asking at once would both read the same line across the
  // ledger's await, get the same DSN, and skip the next one.
  let queue: Promise<unknown> = Promise.resolve();
  return {
    description: `DSN file ${path}`,
    get exhausted() {
      return index >= dsns.length;
    },
    next() {
      const answer = queue.then(take);
      queue = answer.catch(() => undefined);
      return answer;
    },
  };
}

const SEQ = /\{seq(?::(\d{1,2}))?\}/g;

/** `SN{seq:7}` → SN0000001; `{seq}` without a width is not padded. */
export function formatTemplate(template: string, seq: number): string {
  return template.replace(SEQ, (_, width: string | undefined) => String(seq).padStart(width ? Number(width) : 0, "0"));
}

export function dsnTemplate(template: string, start: number, ledger: Ledger): DsnSource {
  const count = [...template.matchAll(SEQ)].length;
  if (count !== 1) {
    throw new UsageError(`--dsn-template ${JSON.stringify(template)} must contain {seq} or {seq:WIDTH} exactly once`, { advice: "e.g. --dsn-template 'SN{seq:7}'" });
  }
  if (!Number.isSafeInteger(start) || start < 0) throw new UsageError(`--dsn-start ${start} is not a whole number >= 0`);
  validateDsn(formatTemplate(template, start));
  return {
    description: `DSN template ${template}`,
    async next() {
      for (;;) {
        const dsn = validateDsn(formatTemplate(template, await ledger.nextSequence(template, start)));
        // A number taken by hand (--dsn) earlier is skipped, not reused.
        if (!(await ledger.isProvisioned({ dsn }))) return dsn;
      }
    },
  };
}
