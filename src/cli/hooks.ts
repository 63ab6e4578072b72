// `--on-device-done CMD` / `--on-device-failed CMD`: a command (label printer, MES) run through
// the shell with the device's event record as JSON on stdin. A hook has a timeout; a hook that
// fails or hangs is reported and never changes the device's result. Hooks run beside the line
// (the next board does not wait for a label); the run waits for the last ones before it ends.
// The same flags and the same behaviour for the line, batch and one-shot runs (issue 15.8).
import type { ArgsDef } from "citty";
import { spawn } from "node:child_process";
import { wholeNumberArg } from "./args.ts";
import { printEvent, type RunMode } from "./events.ts";
import { log, output } from "./output.ts";

/** The hook flags of `swtool sign`, every mode: the one place they are defined. */
export const hookArgs = {
  "on-device-done": { type: "string", description: "Command run after each signed device, its event JSON (as --json prints it) on stdin: label printer, MES" },
  "on-device-failed": { type: "string", description: "Command run after each failed device, its event JSON on stdin" },
  "hook-timeout": { type: "string", description: "Seconds a hook may run before it is killed (default 30)" },
} as const satisfies ArgsDef;

export type HookArgValues = { [K in keyof typeof hookArgs]?: string };

export interface DeviceHooks {
  /** Runs --on-device-done or --on-device-failed (by the record's type) with the event record. */
  device(record: Record<string, unknown>): void;
  /** Resolves when every hook started so far has ended. */
  settle(): Promise<void>;
}

/** The hooks a run's flags ask for; a failing one is reported (a `hook-failed` event with --json) and changes nothing else. */
export function deviceHooks(args: HookArgValues, mode: RunMode): DeviceHooks {
  const timeout = wholeNumberArg(args["hook-timeout"], "hook-timeout", { min: 1 }) ?? 30;
  const runner = hookRunner((hook, record, error) => {
    const id = { ...(record.dsn !== undefined ? { dsn: String(record.dsn) } : {}), ...(record.smsn !== undefined ? { smsn: String(record.smsn) } : {}), ...(record.row !== undefined ? { row: record.row } : {}) };
    if (output.json) printEvent({ type: "hook-failed", hook, ...id, error }, mode);
    else {
      const what = id.dsn ?? (id.row !== undefined ? `row ${id.row}` : (id.smsn ?? "the device"));
      log.warn(`hook ${JSON.stringify(hook)} for ${what}: ${error} (the device's result stands)`);
    }
  }, timeout * 1000);
  return {
    device(record) {
      const command = record.type === "device-done" ? args["on-device-done"] : record.type === "device-failed" ? args["on-device-failed"] : undefined;
      if (command) runner.run(command, record);
    },
    settle: () => runner.settle(),
  };
}

export interface HookRunner {
  run(command: string, record: Record<string, unknown>): void;
  /** Resolves when every hook started so far has ended. */
  settle(): Promise<void>;
}

export function hookRunner(onFailure: (command: string, record: Record<string, unknown>, error: string) => void, timeoutMs = 30_000): HookRunner {
  const running = new Set<Promise<void>>();
  const posix = process.platform !== "win32";
  const run1 = (command: string, record: Record<string, unknown>) =>
    new Promise<void>((resolve) => {
      let stderr = "";
      let timedOut = false;
      // Its own process group on POSIX, so a timeout ends what the shell started too.
      const child = spawn(posix ? "/bin/sh" : "cmd.exe", posix ? ["-c", command] : ["/d", "/s", "/c", command], { stdio: ["pipe", "ignore", "pipe"], detached: posix, windowsHide: true });
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (posix && child.pid) process.kill(-child.pid, "SIGKILL");
          else child.kill();
        } catch {
          // Already gone.
        }
      }, timeoutMs);
      child.stderr!.on("data", (chunk: Buffer) => {
        if (stderr.length < 4096) stderr += chunk.toString("utf8");
      });
      child.stdin!.on("error", () => {});
      child.stdin!.end(JSON.stringify(record) + "\n");
      const done = (error?: string) => {
        clearTimeout(timer);
        if (timedOut) onFailure(command, record, `no end within ${timeoutMs / 1000} s (killed)`);
        else if (error) onFailure(command, record, error);
        resolve();
      };
      child.on("error", (e) => done(e.message));
      // "exit", not "close": something the hook left running may hold stderr open; its last
      // words get a moment to arrive.
      child.on("exit", (code, signal) =>
        setTimeout(() => {
          const last = stderr.trim().split("\n").at(-1);
          done(code === 0 ? undefined : `${code !== null ? `exit ${code}` : `killed by ${signal}`}${last ? `: ${last}` : ""}`);
        }, 50),
      );
    });
  return {
    run(command, record) {
      const job = run1(command, record);
      running.add(job);
      void job.finally(() => running.delete(job));
    },
    async settle() {
      while (running.size) await Promise.all([...running]);
    },
  };
}
