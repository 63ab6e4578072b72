// A pool of up to N authenticated sessions (the device allows 16) so that parallel stations
// sign at once; one session serves many commands. Sessions open on demand. A session the HSM
// has dropped (idle timeout) is re-opened transparently, once per call; one that has carried
// MAX_COMMANDS_PER_SESSION commands is closed and replaced.
//
// HSM trouble: when another client holds the other sessions (SESSIONS_FULL) while this pool
// has one, callers wait for a session of the pool's own. When the pool can open none (all 16
// taken, or sessions of a killed process not yet expired) or the connector cannot be reached,
// the pool is in trouble: `state` says which and since when, and a `patient` pool (the line)
// retries with back-off instead of failing, so a caller waiting for a signature gets it once
// the HSM is back. `whenReady` lets a station hold new work until then. The state is the
// small status API the station reads; the waiting stays here.
//
// A rejected PIN: the device keeps the slot of a failed authentication for its 30 s idle
// timeout, so for 30 s after one the pool opens no session (the call fails at once with the
// same error): retrying per signature would fill the 16 slots every line PC shares.
import { sleep } from "../lib/sleep.ts";
import { echo } from "./commands/echo.ts";
import { HsmConnectionError, HsmPinRejectedError, isDeviceError } from "./errors.ts";
import { MAX_SESSIONS } from "./protocol.ts";
import { MAX_COMMANDS_PER_SESSION, type AuthKey } from "./secure-channel.ts";
import { HsmSession, type MessagePort } from "./session.ts";

export type PoolState = "ok" | "unreachable" | "sessions-full";

/** How long the device holds the slot of a failed authentication (its idle timeout). */
export const PIN_SLOT_HOLD_MS = 30_000;
const BACKOFF_FIRST_MS = 200;
const BACKOFF_MAX_MS = 5_000;

/** Trouble the pool rides out when patient; anything else (a wrong PIN, a refused command) fails the call. */
function outage(e: unknown): PoolState | undefined {
  if (e instanceof HsmConnectionError) return "unreachable";
  if (isDeviceError(e, "SESSIONS_FULL")) return "sessions-full";
  return undefined;
}

export class SessionPool {
  private readonly idle: HsmSession[] = [];
  /** The pool's state for the station: ok, or the trouble and when it began. */
  state: PoolState = "ok";
  since: Date | undefined;
  detail: string | undefined;
  /** Ride out outages (retry with back-off) instead of failing calls. */
  patient = false;
  private readonly listeners = new Set<() => void>();
  private readyWaiters: (() => void)[] = [];
  private probing: Promise<void> | undefined;
  /** Sessions this pool may hold now: lowered while other clients hold the rest of the HSM's. */
  private limit: number;
  private readonly all = new Set<HsmSession>();
  private opening = 0;
  private readonly waiters: ((s: HsmSession | Error) => void)[] = [];
  private closed = false;
  /** Retired sessions still being closed on the device (close() waits for them). */
  private readonly closing = new Set<Promise<void>>();
  /** The last rejected PIN, and when (performance.now()): no session is opened for pinHoldMs after. */
  private pinRejected: { error: HsmPinRejectedError; at: number } | undefined;
  /** How long after a rejected PIN no session is opened (tests shorten it). */
  pinHoldMs = PIN_SLOT_HOLD_MS;

  constructor(
    private readonly port: MessagePort,
    readonly authKeyId: number,
    private readonly authKey: AuthKey,
    readonly maxSessions = 1,
    /** Commands per session before it is retired and replaced (tests inject a small one). */
    private readonly maxCommandsPerSession = MAX_COMMANDS_PER_SESSION,
  ) {
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > MAX_SESSIONS) {
      throw new RangeError(`sessions must be 1..${MAX_SESSIONS}, got ${maxSessions}`);
    }
    this.limit = maxSessions;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(state: PoolState, e?: unknown): void {
    if (state === this.state) return;
    this.state = state;
    this.since = state === "ok" ? undefined : new Date();
    this.detail = e instanceof Error ? e.message : undefined;
    if (state === "ok") for (const w of this.readyWaiters.splice(0)) w();
    for (const l of this.listeners) l();
  }

  /** Resolves once the pool can sign again (probing the HSM with ECHO meanwhile), or when `signal` aborts. */
  whenReady(signal?: AbortSignal): Promise<void> {
    if (this.state === "ok" || this.closed || signal?.aborted) return Promise.resolve();
    this.probing ??= this.use((s) => s.send(echo, new Uint8Array([0x53])))
      .then(() => undefined, () => undefined)
      .finally(() => (this.probing = undefined));
    return new Promise((resolve) => {
      const done = () => {
        signal?.removeEventListener("abort", done);
        resolve();
      };
      this.readyWaiters.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  get size(): number {
    return this.all.size;
  }

  /** Opens the first session now, so a wrong PIN or slot shows at once. */
  async warmUp(): Promise<void> {
    this.release(await this.open());
  }

  private async open(): Promise<HsmSession> {
    if (this.pinRejected && performance.now() < this.pinRejected.at + this.pinHoldMs) throw this.pinRejected.error;
    this.opening++;
    try {
      const s = await HsmSession.open(this.port, this.authKeyId, this.authKey, this.maxCommandsPerSession);
      this.all.add(s);
      return s;
    } catch (e) {
      if (e instanceof HsmPinRejectedError) this.pinRejected = { error: e, at: performance.now() };
      throw e;
    } finally {
      this.opening--;
      // Waiters wait for one of our sessions to be released; with none open or opening, none
      // ever will be (the open failed): each tries for itself (and fails or backs off on its own).
      if (this.all.size === 0 && this.opening === 0) {
        while (this.waiters.length > 0 && this.opening < this.limit) {
          const waiter = this.waiters.shift()!;
          this.open().then(waiter, waiter);
        }
      }
    }
  }

  private async acquire(): Promise<HsmSession> {
    if (this.closed) throw new Error("the HSM session pool is closed");
    for (;;) {
      const s = this.idle.pop();
      if (!s) break;
      if (s.usable) return s;
      this.retire(s);
    }
    if (this.all.size + this.opening < this.limit) {
      try {
        return await this.open();
      } catch (e) {
        // Another client holds the rest of the HSM's sessions: wait for one of ours.
        if (!isDeviceError(e, "SESSIONS_FULL") || this.all.size === 0) throw e;
        this.limit = Math.max(1, this.all.size);
        setTimeout(() => (this.limit = this.maxSessions), 30_000).unref?.();
      }
    }
    return new Promise<HsmSession>((resolve, reject) => this.waiters.push((s) => (s instanceof Error ? reject(s) : resolve(s))));
  }

  /** Drops a session that can serve no more commands, closing it on the device if it is still open there. */
  private retire(s: HsmSession): void {
    this.all.delete(s);
    const closing = s.close().finally(() => this.closing.delete(closing));
    this.closing.add(closing);
  }

  private release(s: HsmSession): void {
    if (!s.usable) {
      this.retire(s);
      const waiter = this.waiters.shift();
      if (waiter) this.open().then(waiter, waiter);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(s);
    else this.idle.push(s);
  }

  /**
   * Runs `fn` on a session of the pool; re-opens a session the HSM timed out, once. A patient
   * pool rides out an unreachable connector or a full HSM, retrying with back-off.
   */
  async use<T>(fn: (session: HsmSession) => Promise<T>): Promise<T> {
    let delay = BACKOFF_FIRST_MS;
    // Sessions the HSM forgot (idle timeout, a restarted HSM) are each re-opened; idle ones may all be stale.
    let reopened = 0;
    for (;;) {
      let s: HsmSession;
      try {
        s = await this.acquire();
      } catch (e) {
        await this.troubled(e, delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
        continue;
      }
      try {
        const result = await fn(s);
        this.setState("ok");
        return result;
      } catch (e) {
        if (reopened <= this.maxSessions && isDeviceError(e, "INVALID_SESSION")) {
          reopened++;
          continue;
        }
        // The connection dropped mid-command (the session is abandoned): wait and run it again.
        if (e instanceof HsmConnectionError) {
          await this.troubled(e, delay);
          delay = Math.min(delay * 2, BACKOFF_MAX_MS);
          continue;
        }
        throw e;
      } finally {
        this.release(s);
      }
    }
  }

  /** Records an outage and waits before the next try; rethrows what is not one (or when not patient). */
  private async troubled(e: unknown, delayMs: number): Promise<void> {
    const state = outage(e);
    if (!state || !this.patient || this.closed) throw e;
    this.setState(state, e);
    await sleep(delayMs);
    if (this.closed) throw e;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w(new Error("the HSM session pool was closed"));
    const sessions = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all([...sessions.map((s) => s.close()), ...this.closing]);
  }
}
