// The operator's lines on stdin for `--next-device prompt`: each Enter (or each DSN a barcode
// scanner types, ending in Enter) goes to the fixture that has waited longest. A plain Enter
// pressed while no fixture waits is dropped (and said so): kept, it would start the board that
// just finished, still answering in its fixture, again under a new DSN. Scanned DSNs are kept
// in order until a fixture waits.
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { OperatorInput } from "../device/fixture.ts";

export interface OperatorInputOptions {
  /** Each line as it arrives (the terminal echoed it). */
  onLine?: (line: string) => void;
  /** Keep lines typed while no fixture waits (scanned DSNs); otherwise they are dropped. */
  typeAhead?: boolean;
  /** A line was dropped because no fixture was waiting. */
  onIgnored?: (line: string) => void;
}

export function operatorInputFrom(stream: Readable, options: OperatorInputOptions = {}): OperatorInput & { close(): void } {
  const lines: string[] = [];
  const waiters: { resolve: (line: string | undefined) => void; signal: AbortSignal; onAbort: () => void }[] = [];
  let ended = false;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on("line", (line) => {
    options.onLine?.(line);
    const w = waiters.shift();
    if (w) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.resolve(line);
    } else if (options.typeAhead) lines.push(line);
    else options.onIgnored?.(line);
  });
  rl.on("close", () => {
    ended = true;
    for (const w of waiters.splice(0)) w.resolve(undefined);
  });
  return {
    next(signal) {
      const queued = lines.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      if (ended || signal.aborted) return Promise.resolve(undefined);
      return new Promise((resolve) => {
        const waiter = {
          resolve,
          signal,
          onAbort: () => {
            const i = waiters.indexOf(waiter);
            if (i >= 0) waiters.splice(i, 1);
            resolve(undefined);
          },
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
        waiters.push(waiter);
      });
    },
    close: () => rl.close(),
  };
}
