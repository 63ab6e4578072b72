// Shared by bench/line.ts and bench/soak.ts: the device simulator in its own process (so the
// bench process's CPU time is swtool's alone), and a station against it and an HSM.
import { join } from "node:path";
import { REPO } from "./_lib.ts";

/** Starts `swtool device simulate --json` from source and returns its ports. */
export async function spawnDeviceSimulator(args: string[]) {
  const proc = Bun.spawn([process.execPath, join(REPO, "src", "main.ts"), "device", "simulate", "--json", ...args], { stdout: "pipe", stderr: "ignore" });
  const reader = proc.stdout.getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("device simulator exited");
    text += new TextDecoder().decode(value);
    const ready = text.split("\n").find((l) => l.includes('"ready"'));
    if (ready) {
      // Keep draining its stdout (stored events) so the pipe never fills.
      void (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return { ports: JSON.parse(ready).ports as string[], pid: proc.pid, stop: async () => (proc.kill("SIGINT"), await proc.exited) };
    }
  }
}
