// `swtool hsm simulate | load-test-chain | info` as real processes (the compiled binary): the
// rehearsal flow of the issue, PIN options, and that the PIN never shows in any output.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { swtool, spawnSwtoolServer } from "../helpers/cli.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const PIN = "PIN-7f3a9c-secret";
let proc: ReturnType<typeof Bun.spawn> & { stdout: ReadableStream<Uint8Array> };
let url = "";
let dir = "";
let ready: Record<string, unknown> = {};

beforeAll(async () => {
  dir = scratchDir("hsm-cli");
  const started = await spawnSwtoolServer(["hsm", "simulate", "--listen", "127.0.0.1:0", "--state", join(dir, "hsm.json"), "--json", "--verbose"]);
  proc = started.proc as typeof proc;
  url = started.first.url as string;
  ready = started.first;
});

afterAll(async () => {
  proc.kill("SIGINT");
  await proc.exited;
  rmSync(dir, { recursive: true, force: true });
});

const env = { SWTOOL_HSM_PIN: PIN };

describe("swtool hsm", () => {
  test("simulate --json first says it is ready, in the shape of every simulator", () => {
    expect(ready).toEqual({ type: "ready", time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), url, serial: expect.any(Number), latency: "none", state: join(dir, "hsm.json") });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
  test("load-test-chain then info show a complete, verifying test chain", async () => {
    const load = await swtool(["hsm", "load-test-chain", "--connector", url, "--product", "RNET_DAK_DEMO", "--verbose"], { env });
    expect(load.stderr).toBe("");
    expect(load.code).toBe(0);
    expect(load.stdout).toContain("loaded a long-layout test chain for RNET_DAK_DEMO (production)");
    expect(load.stdout).toContain("its root is a test root, NOT Amazon's");
    const info = await swtool(["hsm", "info", "-c", url, "--verbose"], { env });
    expect(info.code).toBe(0);
    expect(info.stdout).toContain("free slots   220 of 256 objects");
    expect(info.stdout).toContain("0x0050  asymmetric-key     ed25519");
    expect(info.stdout).toContain("RNET_DAK_DEMO: chain complete and verifies, NOT Amazon's root (test chain)");
    for (const out of [load.stdout, load.stderr, info.stdout, info.stderr]) expect(out).not.toContain(PIN);
  });
  test("info --json", async () => {
    const r = await swtool(["hsm", "info", "--connector", url, "--json"], { env });
    const data = JSON.parse(r.stdout);
    expect(data.authKeySlot).toBe(5);
    expect(data.products).toEqual([{ productTag: "RNET_DAK_DEMO", complete: true, verifies: true, amazonRoot: { ed25519: false, p256r1: false } }]);
    expect(data.objects.length).toBe(36);
  });
  test("PIN from a file, and --pin_slot spelled the signing tool's way", async () => {
    const file = join(dir, "pin.txt");
    writeFileSync(file, `${PIN}\n`);
    const r = await swtool(["hsm", "info", "--connector", url, "--pin-file", file, "--pin_slot", "5"], { env: { SWTOOL_HSM_PIN: "" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("key slot     5");
  });
  test("--pin works but warns; a wrong PIN is named by slot, never shown", async () => {
    const ok = await swtool(["hsm", "info", "--connector", url, "--pin", PIN], { env: { SWTOOL_HSM_PIN: "" } });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain("--pin shows the PIN to other users");
    const bad = await swtool(["hsm", "info", "--connector", url, "--pin", "WRONG-PIN-0000", "--verbose"], { env: { SWTOOL_HSM_PIN: "" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: the HSM rejected the PIN for authentication key slot 5");
    for (const out of [ok.stdout, ok.stderr, bad.stdout, bad.stderr]) {
      expect(out).not.toContain(PIN);
      expect(out).not.toContain("WRONG-PIN-0000");
    }
  });
  test("--pin-env naming an unset variable", async () => {
    const r = await swtool(["hsm", "info", "--connector", url, "--pin-env", "NO_SUCH_PIN_VAR"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: the environment variable NO_SUCH_PIN_VAR named by --pin-env is not set or empty");
  });
  test("load-test-chain needs a PIN and a blank HSM", async () => {
    const noPin = await swtool(["hsm", "load-test-chain", "--connector", url, "--product", "TEST_DAK_X"], { env: { SWTOOL_HSM_PIN: "" } });
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain("error: no HSM PIN given");
    const again = await swtool(["hsm", "load-test-chain", "--connector", url, "--product", "TEST_DAK_X"], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("error: the HSM is not blank");
  });
  test("connector down", async () => {
    const r = await swtool(["hsm", "info", "--connector", "http://127.0.0.1:9"], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error: cannot reach the HSM connector at http://127.0.0.1:9: connection refused");
  });
  test("the simulator logged commands without key material", async () => {
    // Logged lines name commands and object ids only.
    proc.kill("SIGINT");
    await proc.exited;
    const log = await new Response(proc.stderr as ReadableStream).text();
    expect(log).toContain("session 0 put-asymmetric-key 0x0050: ok");
    expect(log).not.toContain(PIN);
    expect(log).not.toMatch(/[0-9a-f]{32}/);
  });
});
