// Files that only work together (a CA key, its certificate, the server certificate it signed)
// are published as one set: when one of them cannot be written, none of the new ones takes its
// name and every old one stays as it was (a --force rerun never leaves a new ca.key beside the
// old ca.pem, or a new CA beside a server certificate of the old one).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { publishFileSetSync } from "../../src/lib/atomic.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const root = scratchDir("file-sets");
afterAll(() => rmSync(root, { recursive: true, force: true }));
const FILES = ["ca.key", "ca.pem", "nginx.conf", "server.key", "server.pem"];
/** Every entry of `dir` with its text ("(folder)" for a folder). */
const contents = (dir: string) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, statSync(join(dir, f)).isDirectory() ? "(folder)" : readFileSync(join(dir, f), "utf8")]));

describe("one set, all or nothing", () => {
  test("pki init --force over an authority whose server.key cannot be replaced: the old authority stays whole", async () => {
    const pki = join(root, "pki");
    expect((await swtool(["pki", "init", "--out", pki, "--server-name", "signing.local"])).code).toBe(0);
    // server.key comes after ca.key and ca.pem in the set: a folder in its place (an operator's
    // mistake, a backup tool) fails the set after the new CA's files were made.
    rmSync(join(pki, "server.key"));
    mkdirSync(join(pki, "server.key"));
    const before = contents(pki);
    const r = await swtool(["pki", "init", "--out", pki, "--server-name", "signing.local", "--force"]);
    expect(r).toEqual({ code: 1, stdout: "", stderr: `error: cannot write ${join(pki, "server.key")}: it is a directory\n  fix: move it out of the way, or choose another folder\n` });
    expect(contents(pki)).toEqual(before);
    expect(readdirSync(pki).sort()).toEqual(FILES);
  });

  test("a name already taken in the set: refused before any file is written", () => {
    const dir = join(root, "lib");
    mkdirSync(dir);
    publishFileSetSync([{ path: join(dir, "b"), data: "old b\n" }]);
    expect(() => publishFileSetSync([{ path: join(dir, "a"), data: "a\n" }, { path: join(dir, "b"), data: "b\n" }])).toThrow(`${join(dir, "b")} already exists`);
    expect(contents(dir)).toEqual({ b: "old b\n" });
    publishFileSetSync([{ path: join(dir, "a"), data: "a\n" }, { path: join(dir, "b"), data: "new b\n", replace: true }]);
    expect(contents(dir)).toEqual({ a: "a\n", b: "new b\n" });
  });
});
