// Runs an SFTP job with retries: a new connection per attempt, waiting 1x, 2x, 4x ... the base
// delay after a dropped, refused or timed-out connection; any other failure (wrong key, host
// key refused, remote file in the way) ends at once, since another attempt cannot fix it.
import { SwtoolError } from "../lib/errors.ts";
import { sleep } from "../lib/sleep.ts";
import { ConnectionLostError, openSftp, type SftpSession, type SshTarget } from "./connection.ts";

export interface RetryOptions {
  /** Attempts after the first (default 3). */
  retries?: number;
  /** Base delay in milliseconds (default 2000). */
  retryDelayMs?: number;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (attempt: number, error: SwtoolError, delayMs: number) => void;
}

export async function withSftp<T>(target: SshTarget, options: RetryOptions, job: (session: SftpSession, attempt: number) => Promise<T>): Promise<{ value: T; attempts: number }> {
  const retries = options.retries ?? 3;
  const base = options.retryDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    let session: SftpSession | undefined;
    try {
      session = await openSftp(target);
      return { value: await Promise.race([job(session, attempt), session.gone]), attempts: attempt };
    } catch (e) {
      let error = e;
      // An SFTP operation failing because the connection went is a dropped connection too.
      if (session?.lost && !(e instanceof ConnectionLostError) && !(e instanceof SwtoolError)) {
        error = new ConnectionLostError(`the SFTP connection dropped: ${(e as Error).message}`, { cause: e });
      }
      if (!(error instanceof ConnectionLostError) || attempt > retries) throw error;
      const delay = base * 2 ** (attempt - 1);
      options.onRetry?.(attempt, error, delay);
      await sleep(delay);
    } finally {
      session?.close();
    }
  }
}
