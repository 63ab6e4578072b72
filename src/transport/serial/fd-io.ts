// Reading and writing a non-blocking terminal file descriptor under Bun. Reads go through
// Bun.file(fd).stream(), which waits on the fd in Bun's own event loop (epoll): no polling
// timer and no CPU while the line is quiet (measured in bench/line.ts). Writes call write(2)
// and wait briefly when the kernel's output buffer is full.
import { check, ERRNO, errno, libc, SystemError } from "./libc.ts";
import { sleep } from "../../lib/sleep.ts";

export class FdReader {
  private reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } | undefined;
  private stopped = false;

  /** Starts delivering chunks; `onEnd` gets the error when the fd fails (unplugged: EIO). */
  start(fd: number, onData: (chunk: Uint8Array) => void, onEnd: (error?: Error) => void): void {
    this.reader = Bun.file(fd).stream().getReader();
    const pump = async () => {
      try {
        for (;;) {
          const { done, value } = await this.reader!.read();
          if (done || this.stopped) break;
          if (value?.length) onData(value);
        }
        if (!this.stopped) onEnd();
      } catch (e) {
        if (!this.stopped) onEnd(e as Error);
      }
    };
    void pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    try {
      await this.reader?.cancel();
    } catch {
      // Already failed or closed: nothing to cancel.
    }
  }
}


/** Writes all of `data`, waiting while the fd would block; throws after `stallMs` without progress. */
export async function writeAll(fd: number, data: Uint8Array, what: string, stallMs = 5000): Promise<void> {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let offset = 0;
  let stalledSince = 0;
  while (offset < buffer.length) {
    const n = Number(libc().write(fd, buffer.subarray(offset), buffer.length - offset));
    if (n >= 0) {
      offset += n;
      stalledSince = 0;
      continue;
    }
    const code = errno();
    if (code === ERRNO.EINTR) continue;
    if (code !== ERRNO.EAGAIN) throw new SystemError("write", code, what);
    stalledSince ||= Date.now();
    if (Date.now() - stalledSince > stallMs) throw new SystemError("write", code, `${what} (output stalled ${stallMs} ms; flow control?)`);
    await sleep(1);
  }
}

export function closeFd(fd: number, what: string): void {
  check(libc().close(fd), "close", what);
}
