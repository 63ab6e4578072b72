// The operator's lines on stdin for `--next-device prompt`: each Enter (or each DSN a barcode
// scanner types, ending in Enter) goes to the fixture that has waited longest.
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { OperatorInput } from "../device/fixture.ts";

export function operatorInputFrom(stream: Readable, onLine: (line: string) => void = () => {}): OperatorInput & { close(): void } {
  const lines: string[] = [];
  const waiters: { resolve: (line: string | undefined) => void; signal: AbortSignal; onAbort: () => void }[] = [];
  let ended = false;
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  rl.on("line", (line) => {
    onLine(line);
    const w = waiters.shift();
    if (w) {
      w.signal.removeEventListener("abort", w.onAbort);
      w.resolve(line);
    } else lines.push(line);
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
