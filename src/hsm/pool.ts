// A pool of up to N authenticated sessions (the device allows 16) so that parallel stations
// sign at once; one session serves many commands. Sessions open on demand. A session the HSM
// has dropped (idle timeout) is re-opened transparently, once per call; one that has carried
// MAX_COMMANDS_PER_SESSION commands is closed and replaced.
import { isDeviceError } from "./errors.ts";
import { MAX_SESSIONS } from "./protocol.ts";
import { MAX_COMMANDS_PER_SESSION, type AuthKey } from "./secure-channel.ts";
import { HsmSession, type MessagePort } from "./session.ts";

export class SessionPool {
  private readonly idle: HsmSession[] = [];
  private readonly all = new Set<HsmSession>();
  private opening = 0;
  private readonly waiters: ((s: HsmSession | Error) => void)[] = [];
  private closed = false;
  /** Retired sessions still being closed on the device (close() waits for them). */
  private readonly closing = new Set<Promise<void>>();

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
  }

  get size(): number {
    return this.all.size;
  }

  /** Opens the first session now, so a wrong PIN or slot shows at once. */
  async warmUp(): Promise<void> {
    this.release(await this.open());
  }

  private async open(): Promise<HsmSession> {
    this.opening++;
    try {
      const s = await HsmSession.open(this.port, this.authKeyId, this.authKey, this.maxCommandsPerSession);
      this.all.add(s);
      return s;
    } finally {
      this.opening--;
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
    if (this.all.size + this.opening < this.maxSessions) return this.open();
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

  /** Runs `fn` on a session of the pool; re-opens a session the HSM timed out, once. */
  async use<T>(fn: (session: HsmSession) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const s = await this.acquire();
      try {
        return await fn(s);
      } catch (e) {
        if (attempt === 0 && isDeviceError(e, "INVALID_SESSION")) continue;
        throw e;
      } finally {
        this.release(s);
      }
    }
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
