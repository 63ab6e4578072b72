// The publisher (src/lib/atomic.ts): every byte count checked on a real full disk, a failed
// output leaves nothing under its name, non-regular targets (device nodes, FIFOs, descriptors,
// symlinks to them) are written into and never replaced, `-` is stdout, modes as asked.
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkDirectory, checkOutputPath, exactName, publishFile, publishFileSync, replaceFileSync, writeOutput, writeOutputSync } from "../../src/lib/atomic.ts";
import { makeNullDevice, smallDisk, type SmallDisk } from "../helpers/disk.ts";
import { REPO } from "../helpers/vectors.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const tempDir = () => scratchDir("atomic");
const disks: SmallDisk[] = [];
afterAll(() => disks.forEach((d) => d.unmount()));
function disk(size?: number, options?: { readOnly?: boolean }): SmallDisk | undefined {
  const d = smallDisk(size, options);
  if (d) disks.push(d);
  return d;
}
const FULL = (path: string) => `cannot write ${path}: the disk is full`;
const namesIn = (dir: string) => readdirSync(dir).filter((n) => !n.startsWith("filler-")).sort();

describe("on a full disk (tmpfs)", () => {
  test("publishFileSync: a short write throws, nothing is left under the name or as a temporary", () => {
    const d = disk();
    if (!d) return;
    d.fill(8192);
    const path = join(d.dir, "out.json");
    expect(() => publishFileSync(d.dir, exactName(path), Buffer.alloc(100_000, 1))).toThrow(FULL(path));
    expect(namesIn(d.dir)).toEqual([]);
  });

  test("publishFile: a streamed write that fills the disk throws, nothing is left", async () => {
    const d = disk();
    if (!d) return;
    d.fill(8192);
    const path = join(d.dir, "C_CONTROL_LOG_1.txt");
    const error = await publishFile(d.dir, exactName(path), async (out) => {
      for (let i = 0; i < 10; i++) await out.write("x".repeat(4000));
    }).catch((e: Error) => e);
    expect((error as Error).message).toBe(FULL(path));
    expect((error as { advice?: string }).advice).toBe("free space on that disk, or write to another one");
    expect(namesIn(d.dir)).toEqual([]);
  });

  test("replaceFileSync: the old file stays whole when the new one does not fit", () => {
    const d = disk();
    if (!d) return;
    const path = join(d.dir, "out.json");
    writeFileSync(path, "old\n");
    d.fill(4096);
    expect(() => replaceFileSync(path, Buffer.alloc(50_000, 1))).toThrow(FULL(path));
    expect(readFileSync(path, "utf8")).toBe("old\n");
    expect(namesIn(d.dir)).toEqual(["out.json"]);
  });

  test("what fits is written whole", () => {
    const d = disk();
    if (!d) return;
    d.fill(16384);
    const path = publishFileSync(d.dir, exactName(join(d.dir, "small.txt")), "fits\n", 0o600);
    expect(readFileSync(path, "utf8")).toBe("fits\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});

describe("targets that are not regular files", () => {
  test("a device node made with mknod is written into and stays a device node", () => {
    const dir = tempDir();
    const node = join(dir, "null");
    if (!makeNullDevice(node)) return;
    expect(writeOutputSync(node, "signing output\n", { replace: true, mode: 0o600 })).toBe(node);
    expect(statSync(node).isCharacterDevice()).toBe(true);
    // A symlink to it: the link and the node both stay.
    const link = join(dir, "out.json");
    symlinkSync(node, link);
    writeOutputSync(link, "again\n", { replace: true });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(statSync(node).isCharacterDevice()).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(["null", "out.json"]);
  });

  test("/dev/null itself stays a device", () => {
    writeOutputSync("/dev/null", "x\n", { replace: true });
    expect(statSync("/dev/null").isCharacterDevice()).toBe(true);
  });

  test("a FIFO is written into (a reader gets the data) and stays a FIFO", async () => {
    const dir = tempDir();
    const fifo = join(dir, "pipe");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const reader = Bun.spawn(["cat", fifo], { stdout: "pipe" });
    await writeOutput(fifo, async (out) => {
      await out.write("line 1\n");
      await out.write("line 2\n");
    });
    expect(await new Response(reader.stdout).text()).toBe("line 1\nline 2\n");
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  test("/dev/stdout (a symlink to the process's descriptor) is written through, whether stdout is a pipe or a file", async () => {
    const script = `import { writeOutputSync } from ${JSON.stringify(join(REPO, "src/lib/atomic.ts"))}; writeOutputSync("/dev/stdout", "to stdout\\n", { replace: true }); writeOutputSync("-", "dash\\n");`;
    const piped = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe" });
    expect(await new Response(piped.stdout).text()).toBe("to stdout\ndash\n");
    const file = join(tempDir(), "captured.txt");
    const toFile = Bun.spawn([process.execPath, "-e", script], { stdout: Bun.file(file) });
    expect(await toFile.exited).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("to stdout\ndash\n");
    expect(lstatSync("/dev/stdout").isSymbolicLink()).toBe(true);
    expect(readlinkSync("/dev/stdout")).toBe("/proc/self/fd/1");
  });

  test("a symlink to a regular file: the file is replaced, the link kept", () => {
    const dir = tempDir();
    mkdirSync(join(dir, "real"));
    const file = join(dir, "real", "out.json");
    writeFileSync(file, "old\n");
    const link = join(dir, "out.json");
    symlinkSync(file, link);
    expect(writeOutputSync(link, "new\n", { replace: true, mode: 0o600 })).toBe(file);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(file, "utf8")).toBe("new\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  test("a directory is refused by name", () => {
    const dir = tempDir();
    expect(() => writeOutputSync(dir, "x", { replace: true })).toThrow(`-o ${dir} is a directory`);
  });
});

describe("pre-flight", () => {
  test("a missing directory, an existing file, a directory as file", () => {
    const dir = tempDir();
    expect(() => checkOutputPath("/nonexistent/x.json")).toThrow("-o: the directory /nonexistent does not exist");
    writeFileSync(join(dir, "taken.txt"), "");
    expect(() => checkOutputPath(join(dir, "taken.txt"))).toThrow(`-o ${join(dir, "taken.txt")} already exists`);
    expect(() => checkOutputPath(join(dir, "taken.txt"), { replace: true })).not.toThrow();
    expect(() => checkOutputPath(dir, { replace: true })).toThrow(`-o ${dir} is a directory`);
    expect(() => checkDirectory(join(dir, "taken.txt"), "--control_log_dir")).toThrow(`--control_log_dir: ${join(dir, "taken.txt")} is not a directory`);
    expect(readdirSync(dir)).toEqual(["taken.txt"]);
  });

  test("a read-only file system is found before anything is written, also as root", () => {
    const d = disk(64 * 1024, { readOnly: true });
    if (!d) return;
    expect(() => checkDirectory(d.dir, "--control_log_dir")).toThrow(`--control_log_dir: cannot create files in ${d.dir}: the file system is read-only`);
    expect(() => checkOutputPath(join(d.dir, "out.json"))).toThrow(`-o: cannot create files in ${d.dir}: the file system is read-only`);
  });
});
