// Riding out ledger trouble: a SQLite file locked by another process for a few seconds, a
// PostgreSQL server restarting or briefly unreachable. Such errors are retried with back-off
// (100 ms doubling to 2 s); anything else (a full disk, a malformed file, a constraint) is
// not. The line uses it without a time limit: while the ledger cannot be written no board
// starts, and a provisioned board waits until it is recorded as provisioned. Commands give up
// after `giveUpAfterMs`.
import { randomUUID } from "node:crypto";
import { SwtoolError } from "../lib/errors.ts";
import { sleep } from "../lib/sleep.ts";
import type { Ledger } from "./ledger.ts";

const PG_TRANSIENT_STATES = /^(08|57P0[1-3]|40001|40P01|53300|55P03)/;

export function isTransientLedgerError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  // The operator's LedgerError keeps the engine's error as its cause.
  if (e.cause !== undefined && e.cause !== e && isTransientLedgerError(e.cause)) return true;
  const { code, errno } = e as { code?: unknown; errno?: unknown };
  if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || (typeof code === "string" && code.startsWith("SQLITE_BUSY"))) return true;
  if (/database (table )?is locked/.test(e.message)) return true;
  if (typeof code === "string" && /^ERR_POSTGRES_(CONNECTION|.*TIMEOUT|.*CLOSED|NOT_CONNECTED|TLS_UPGRADE)/.test(code)) return true;
  if (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code)) return true;
  if (typeof errno === "string" && PG_TRANSIENT_STATES.test(errno)) return true;
  return false;
}

export interface RetryOptions {
  /** Stop retrying after this long in one outage (default: never). */
  giveUpAfterMs?: number;
  /** The first failure of an outage. */
  onUnavailable?: (error: Error) => void;
  /** The first success after an outage. */
  onAvailable?: (downMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
}

// A transaction is retried by its caller as a whole, not statement by statement.
const NOT_RETRIED = new Set(["close", "path", "engine", "identity", "transaction"]);

export interface Retrier {
  /** Runs `call`, retrying it through transient ledger trouble. */
  run<T>(call: () => Promise<T>): Promise<T>;
}

/** One outage state for every call made through it (the line's ledger and its DSN source). */
export function ledgerRetrier(what: string, options: RetryOptions = {}): Retrier {
  const pause = options.sleep ?? sleep;
  let downSince: number | undefined;
  const run = async <T>(call: () => Promise<T>): Promise<T> => {
    let delay = 100;
    const started = Date.now();
    for (;;) {
      try {
        const value = await call();
        if (downSince !== undefined) {
          const ms = Date.now() - downSince;
          downSince = undefined;
          options.onAvailable?.(ms);
        }
        return value;
      } catch (e) {
        if (!isTransientLedgerError(e)) throw e;
        if (downSince === undefined) {
          downSince = Date.now();
          options.onUnavailable?.(e as Error);
        }
        if (options.giveUpAfterMs !== undefined && Date.now() - started >= options.giveUpAfterMs) {
          throw new SwtoolError(`the ledger ${what} stayed unavailable for ${Math.round((Date.now() - started) / 1000)} s: ${(e as Error).message}`, {
            advice: "check that no other program holds the ledger file, or that the database server runs and is reachable, then run the command again",
            cause: e,
          });
        }
        await pause(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  };
  return { run };
}

/** The same ledger, with every call retried through transient trouble. */
export function retryingLedger(inner: Ledger, options: RetryOptions | Retrier = {}): Ledger {
  const { run } = "run" in options ? options : ledgerRetrier(inner.path, options);
  return new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || NOT_RETRIED.has(String(name))) return typeof value === "function" ? value.bind(target) : value;
      if (name === "beginAttempt") {
        // One key for every try: a retry after a lost reply finds the row the first try wrote.
        return (a: Parameters<Ledger["beginAttempt"]>[0]) => {
          const keyed = { ...a, attemptKey: a.attemptKey ?? randomUUID() };
          return run(() => target.beginAttempt(keyed));
        };
      }
      return (...args: unknown[]) => run(() => (value as (...a: unknown[]) => Promise<unknown>).apply(target, args));
    },
  });
}
