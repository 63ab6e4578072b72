// Runs dist/swtool.exe under Debian's Wine 8 for the Windows end-to-end suite: one prefix shared
// by every file of the suite (made once: wineboot plus the ProcessPrng shim in system32), Unix
// paths as Z:\..., COM ports as Wine's own port overrides (HKLM\Software\Wine\Ports), which
// Wine's mount manager turns into dosdevices links and HARDWARE\DEVICEMAP\SERIALCOMM entries as
// a Windows serial driver would. Without wine64 the suite is skipped with a message, unless
// SWTOOL_REQUIRE_WINE=1 (set by .ci/run), where a missing Wine fails.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO } from "../helpers/vectors.ts";
import type { CliResult } from "../helpers/cli.ts";

export const WINE = "/usr/lib/wine/wine64";
export const WINESERVER = "/usr/lib/wine/wineserver";
export const EXE = join(REPO, "dist", "swtool.exe");
const SHIM = join(REPO, "test", "windows", "build", "bcryptprimitives.dll");

/** Why the suite cannot run here, or undefined when it can. */
export function missing(): string | undefined {
  if (!existsSync(WINE)) return "wine64 is not installed (apt-get install wine64 gcc-mingw-w64-x86-64; .ci/run installs it)";
  if (!existsSync(EXE)) return "dist/swtool.exe is not built (bun build.ts --target windows)";
  return undefined;
}

/** The newest modification time of the sources the exe is built from. */
function newestSource(dir = join(REPO, "src")): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** `npm test` builds only dist/swtool: a swtool.exe older than the sources is built again here. */
function rebuildIfStale(): void {
  if (!existsSync(WINE) || (existsSync(EXE) && statSync(EXE).mtimeMs >= newestSource())) return;
  const p = Bun.spawnSync([process.execPath, join(REPO, "build.ts"), "--target", "windows"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) console.warn(`building dist/swtool.exe failed: ${p.stderr.toString()}`);
}

rebuildIfStale();
export const skipReason = missing();
if (skipReason) {
  if (process.env.SWTOOL_REQUIRE_WINE === "1") throw new Error(`the Windows suite must run here but cannot: ${skipReason}`);
  console.warn(`Windows suite (test/windows) skipped: ${skipReason}`);
}

/**
 * The prefix the suite's files share, made on first use: one per checkout, because restarting
 * the wineserver (mapComPorts) would cut off another checkout's suite running on the same prefix.
 */
export const PREFIX = process.env.SWTOOL_WINEPREFIX ?? join(tmpdir(), `swtool-wineprefix-${process.getuid?.() ?? 0}-${Bun.hash(REPO).toString(16)}`);

const wineEnv = (): Record<string, string> => ({ ...(process.env as Record<string, string>), WINEPREFIX: PREFIX, WINEDEBUG: "-all", NO_COLOR: "1" });

function run(argv: string[], what: string): string {
  const p = Bun.spawnSync(argv, { env: wineEnv(), stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${what} failed (${p.exitCode}): ${p.stderr.toString()}${p.stdout.toString()}`);
  return p.stdout.toString();
}

let ready = false;

/** Makes the prefix (a few seconds, once) and puts the ProcessPrng shim into its system32. */
export function ensurePrefix(): void {
  if (ready) return;
  const marker = join(PREFIX, ".swtool-ready");
  if (!existsSync(SHIM)) run([join(REPO, "test", "windows", "build-shim.sh")], "building the ProcessPrng shim");
  if (!existsSync(marker)) {
    mkdirSync(PREFIX, { recursive: true });
    run([WINE, "wineboot", "-i"], "wineboot");
    writeFileSync(marker, "");
  }
  // The loader looks in system32 for DLLs Wine has no builtin for.
  copyFileSync(SHIM, join(PREFIX, "drive_c", "windows", "system32", "bcryptprimitives.dll"));
  ready = true;
}

/** A Unix path as the exe sees it (Wine's Z: drive is /). */
export const win = (unixPath: string) => `Z:${unixPath.replaceAll("/", "\\")}`;

/**
 * Maps COM ports to pseudo-terminals the way Wine documents (HKLM\Software\Wine\Ports), then
 * restarts the wineserver so its mount manager creates the devices and the SERIALCOMM entries.
 */
export function mapComPorts(ports: Record<string, string>): void {
  ensurePrefix();
  // The key is absent on a fresh prefix: reg delete then fails, which is fine.
  Bun.spawnSync([WINE, "reg", "delete", "HKLM\\Software\\Wine\\Ports", "/f"], { env: wineEnv(), stdout: "ignore", stderr: "ignore" });
  for (const [name, pty] of Object.entries(ports)) run([WINE, "reg", "add", "HKLM\\Software\\Wine\\Ports", "/v", name, "/d", pty, "/f"], "reg add");
  stopWineserver();
}

/**
 * Records a USB serial adapter in the prefix's device tree as its Windows driver does (the
 * device's Enum key with Mfg, and PortName under its Device Parameters), for `ports` and
 * `--port usb:SERIAL`. Wine has no USB adapters behind its pty ports, so this is the fixture.
 */
export function registerUsbAdapter(port: string, usb: { vid: string; pid: string; serial: string; mfg: string }): void {
  ensurePrefix();
  const key = `HKLM\\SYSTEM\\CurrentControlSet\\Enum\\USB\\VID_${usb.vid}&PID_${usb.pid}\\${usb.serial}`;
  run([WINE, "reg", "add", key, "/v", "Mfg", "/d", `@oem41.inf,%mfgname%;${usb.mfg}`, "/f"], "reg add");
  run([WINE, "reg", "add", `${key}\\Device Parameters`, "/v", "PortName", "/d", port, "/f"], "reg add");
}

/** Pids of the processes running in this suite's prefix (their environment names it). */
function prefixProcesses(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, "latin1").split("\0").includes(`WINEPREFIX=${PREFIX}`)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/**
 * Stops the prefix's wineserver and everything of the prefix still running: a device host
 * (winedevice.exe) that services.exe started while the server was going down never connects
 * and would spin on after the suite.
 */
export function stopWineserver(): void {
  Bun.spawnSync([WINESERVER, "-k"], { env: wineEnv() });
  Bun.spawnSync([WINESERVER, "-w"], { env: wineEnv() });
  for (const pid of prefixProcesses()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export interface ExeOptions {
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
  timeoutMs?: number;
}

/** Spawns swtool.exe under Wine (for runs the test talks to or interrupts). */
export function spawnExe(args: string[], options: ExeOptions = {}) {
  ensurePrefix();
  return Bun.spawn([WINE, EXE, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...wineEnv(), ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new TextEncoder().encode(options.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** Runs swtool.exe under Wine to the end; a run that outlives timeoutMs is killed and fails. */
export async function exe(args: string[], options: ExeOptions = {}): Promise<CliResult> {
  const proc = spawnExe(args, options);
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Wine's text mode: the exe's console output ends lines with CRLF only where Windows would. */
export const lines = (text: string) => text.split(/\r?\n/).filter((l) => l !== "");
