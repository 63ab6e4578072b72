// `--on-device-done CMD` / `--on-device-failed CMD`: a command (label printer, MES) run through
// the shell with the device's event record as JSON on stdin. A hook has a timeout; a hook that
// fails or hangs is reported and never changes the device's result. Hooks run beside the line
// (the next board does not wait for a label); the run waits for the last ones before it ends.
export interface HookRunner {
  run(command: string, record: Record<string, unknown>): void;
  /** Resolves when every hook started so far has ended. */
  settle(): Promise<void>;
}

export function hookRunner(onFailure: (command: string, record: Record<string, unknown>, error: string) => void, timeoutMs = 30_000): HookRunner {
  const running = new Set<Promise<void>>();
  const shell = process.platform === "win32" ? ["cmd.exe", "/d", "/s", "/c"] : ["/bin/sh", "-c"];
  return {
    run(command, record) {
      const job = (async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          const proc = Bun.spawn([...shell, command], { stdin: "pipe", stdout: "ignore", stderr: "pipe" });
          proc.stdin.write(JSON.stringify(record) + "\n");
          await proc.stdin.end();
          let timedOut = false;
          timer = setTimeout(() => {
            timedOut = true;
            proc.kill();
          }, timeoutMs);
          const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
          if (timedOut) onFailure(command, record, `no end within ${timeoutMs / 1000} s (killed)`);
          else if (code !== 0) onFailure(command, record, `exit ${code}${stderr.trim() ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`);
        } catch (e) {
          onFailure(command, record, (e as Error).message);
        } finally {
          clearTimeout(timer);
        }
      })();
      running.add(job);
      void job.finally(() => running.delete(job));
    },
    async settle() {
      while (running.size) await Promise.all([...running]);
    },
  };
}
