// Real small disks for the full-disk tests: a tmpfs of a few pages, mounted when the tests run
// as root (CI does); elsewhere `smallDisk` returns undefined and the caller skips with a message.
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tempDir as scratchDir } from "./temp.ts";

export interface SmallDisk {
  dir: string;
  /** Fills the disk with a filler file so that about `leave` bytes stay free (whole pages). */
  fill(leave?: number): void;
  /** Bytes free now. */
  free(): number;
  unmount(): void;
}

let reported = false;

/** A tmpfs of `size` bytes, or undefined (with one message) when mounting is not allowed here. */
export function smallDisk(size = 64 * 1024, options: { readOnly?: boolean } = {}): SmallDisk | undefined {
  const dir = scratchDir("disk");
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}${options.readOnly ? ",ro" : ""}`, "tmpfs", dir], { encoding: "utf8" });
  if (mount.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    if (!reported) console.warn(`skipping the small-disk tests: cannot mount a tmpfs here (${(mount.stderr || mount.error?.message || "").trim()}); run them as root`);
    reported = true;
    return undefined;
  }
  const free = () => {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  };
  return {
    dir,
    free,
    fill(leave = 0) {
      const fd = openSync(join(dir, `filler-${Date.now()}-${Math.random()}`), "w");
      try {
        const chunk = Buffer.alloc(4096, 0x5a);
        while (free() > leave) {
          if (writeSync(fd, chunk) <= 0) break;
        }
      } catch {
        // full
      } finally {
        closeSync(fd);
      }
    },
    unmount() {
      spawnSync("umount", ["-l", dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether tests may make device nodes and mounts (root on Linux). */
export const IS_ROOT = process.platform === "linux" && process.getuid?.() === 0;

/**
 * A character device node like /dev/null at `path` (mknod c 1 3); false, with a message, where
 * device nodes cannot be made (not root, or a container without CAP_MKNOD).
 */
export function makeNullDevice(path: string): boolean {
  const made = IS_ROOT && spawnSync("mknod", [path, "c", "1", "3"]).status === 0;
  if (!made) console.warn(`skipping a device-node test: cannot mknod ${path} here (needs root and CAP_MKNOD)`);
  return made;
}
