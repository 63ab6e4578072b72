// The request/answer primitive under a provisioning profile: send text, then wait until what
// the device has printed since satisfies a test, with a deadline. Everything sent and received
// is kept as a transcript for the operator when something goes wrong.
import { SwtoolError } from "../../lib/errors.ts";
import type { ByteChannel } from "../../transport/channel.ts";

export interface TranscriptEntry {
  direction: "sent" | "received";
  text: string;
}

export class Conversation {
  /** Received since the last clear(), latin1 (one char per byte). */
  private buffer = "";
  private closedBy?: Error;
  private wake: () => void = () => {};
  readonly transcript: TranscriptEntry[] = [];

  constructor(private readonly channel: ByteChannel) {
    channel.onData((chunk) => {
      const text = Buffer.from(chunk).toString("latin1");
      this.buffer += text;
      this.record("received", text);
      this.wake();
    });
    channel.onClose((error) => {
      this.closedBy = new SwtoolError(`${channel.name}: the device connection closed${error ? ` (${error.message})` : ""}`, {
        advice: "check the cable or serial server, and that no other program took the port",
        cause: error,
      });
      this.wake();
    });
  }

  private record(direction: TranscriptEntry["direction"], text: string): void {
    // Received bytes arrive in arbitrary pieces and are joined; each send stays one entry.
    const last = this.transcript[this.transcript.length - 1];
    if (direction === "received" && last?.direction === direction) last.text += text;
    else this.transcript.push({ direction, text });
  }

  async send(text: string): Promise<void> {
    if (this.closedBy) throw this.closedBy;
    this.record("sent", text);
    await this.channel.write(new Uint8Array(Buffer.from(text, "latin1")));
  }

  /** Forgets what was received so far (answers to earlier requests, boot logs). */
  clear(): void {
    this.buffer = "";
  }

  get received(): string {
    return this.buffer;
  }

  /** Resolves with test(received) once it is defined; fails after `timeoutMs` naming `what`. */
  async waitFor<T>(test: (received: string) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = test(this.buffer);
      if (result !== undefined) return result;
      if (this.closedBy) throw this.closedBy;
      const left = deadline - Date.now();
      if (left <= 0) {
        const tail = this.buffer.replace(/\0+/g, "").slice(-200);
        throw new SwtoolError(`${this.channel.name}: no ${what} within ${timeoutMs} ms${tail ? `; the device printed: ${JSON.stringify(tail)}` : "; the device printed nothing"}`, {
          advice: "check that the device runs the provisioning firmware for this profile and that the port and baud rate are right",
        });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = () => {};
    }
  }
}

