// Recognising the next board with any firmware, over real pseudo-terminals: a boot banner of
// each style, presence alone (a release build prints no banner, and the finished board sits
// in the fixture answering for a while), and a USB UART whose port vanishes and comes back.
import { describe, expect, test } from "bun:test";
import type { LineEvent } from "../../src/device/line.ts";
import { controlLogs, runStation, type StationRun } from "./station.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const starts = (run: StationRun) => run.events.filter((e) => e.type === "device-start").length;
const waits = (run: StationRun) => run.events.flatMap((e) => (e.type === "waiting" ? [(e as Extract<LineEvent, { type: "waiting" }>).for] : []));

/** Each board was provisioned exactly once, and holds the identity of exactly one control log. */
function expectOncePerBoard(run: StationRun, boards: number): void {
  expect(run.summary).toMatchObject({ provisioned: boards, failed: 0 });
  expect(starts(run)).toBe(boards);
  const presented = run.sim.devices().slice(0, boards);
  expect(presented.every((d) => d.stored)).toBe(true);
  const logs = controlLogs(run.dir).map((l) => l.serialNumber).sort();
  expect(logs).toEqual(presented.map((d) => d.stored!.smsn).sort());
}

describe("next board by boot banner", () => {
  for (const banner of ["sidewalk", "ncs", "zephyr"] as const) {
    test(`${banner} banner, presence off: 3 boards`, async () => {
      const run = await runStation({ transport: "pty", banner, swapMs: 200 }, { count: 3, presence: { misses: 1_000_000 } });
      expectOncePerBoard(run, 3);
      expect(waits(run)).toContain("board-removed");
    }, 30_000);
  }

  test("an nRF5-SDK start-up line is a banner when --boot-banner names it", async () => {
    const run = await runStation(
      { transport: "pty", banner: "nrf5-sdk", swapMs: 200 },
      { count: 2, presence: { misses: 1_000_000 }, protocol: { timeoutMs: 400, bootBanner: /\*\*\* Booting |Sidewalk factory test application started/ } },
    );
    expectOncePerBoard(run, 2);
  }, 30_000);
});

describe("next board by presence (no banner)", () => {
  for (const banner of ["none", "nrf5-sdk"] as const) {
    test(`${banner}: the finished board answers for 1.5 s, a 1 s swap, 3 boards, none started twice`, async () => {
      const run = await runStation({ transport: "pty", banner, lingerMs: 1500, swapMs: 1000 }, { count: 3 });
      expectOncePerBoard(run, 3);
      const seen = waits(run);
      expect(seen).toContain("board-removed");
      expect(seen).toContain("next-board");
    }, 60_000);
  }

  test("a board that stays in the fixture is never provisioned again", async () => {
    // The operator never takes the first board out: the station waits, and says so.
    const sim = { transport: "pty" as const, banner: "none" as const, lingerMs: 60_000 };
    const abort = new AbortController();
    let doneAt = 0;
    const run = await runStation(sim, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === "device-done") doneAt = Date.now();
        if (e.type === "waiting" && e.for === "board-removed") setTimeout(() => abort.abort(), 3000);
      },
    });
    expect(doneAt).toBeGreaterThan(0);
    expectOncePerBoard(run, 1);
    expect(waits(run).at(-1)).toBe("board-removed");
  }, 30_000);
});

describe("next board by re-enumeration", () => {
  test("the port path vanishes with the board and comes back for the next: reopened, 3 boards", async () => {
    const run = await runStation({ transport: "pty", reenumerate: true, banner: "none", swapMs: 600 }, { count: 3, presence: { misses: 1_000_000 } });
    expectOncePerBoard(run, 3);
    expect(waits(run)).toContain("port");
  }, 60_000);
});

describe("--port usb:SERIAL", () => {
  test("the port is found by the adapter's USB serial number in sysfs, also after it re-enumerates", async () => {
    const { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readlinkSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { listLinuxPorts } = await import("../../src/transport/ports.ts");
    const { resolvePortSpec } = await import("../../src/device/fixture.ts");
    // A sysfs and /dev as the kernel lays them out for an FTDI adapter, its tty a simulator's pty.
    const root = scratchDir("sysfs");
    const usb = join(root, "sys/devices/pci0000:00/usb1/1-1");
    mkdirSync(join(usb, "1-1:1.0/ttyUSB7"), { recursive: true });
    for (const [k, v] of Object.entries({ idVendor: "0403", idProduct: "6001", manufacturer: "FTDI", serial: "A9XK3L2M" })) writeFileSync(join(usb, k), `${v}\n`);
    mkdirSync(join(root, "sys/class/tty/ttyUSB7"), { recursive: true });
    symlinkSync(join(usb, "1-1:1.0/ttyUSB7"), join(root, "sys/class/tty/ttyUSB7/device"));
    mkdirSync(join(root, "dev"));
    const list = async () => listLinuxPorts(join(root, "sys/class/tty"), join(root, "dev"));
    await expect(resolvePortSpec("usb:NOPE", list)).rejects.toThrow("no serial port with USB serial number NOPE is connected");
    const { startDeviceSimulator } = await import("../../src/device/simulator/host.ts");
    const { runLine } = await import("../../src/device/line.ts");
    const { dsnTemplate } = await import("../../src/device/dsn.ts");
    const { openLedger } = await import("../../src/ledger/ledger.ts");
    const { testSigner, APP_KEY, DEVICE_TYPE, APID, tempDir } = await import("./station.ts");
    const sim = await startDeviceSimulator({ transport: "pty", reenumerate: true, banner: "none", swapMs: 600 });
    const dir = tempDir();
    const ledger = await openLedger(join(dir, "swtool.db"));
    const waits: string[] = [];
    try {
      const summary = await runLine({
        ports: ["usb:A9XK3L2M"],
        signer: testSigner(), deviceType: DEVICE_TYPE, apid: APID, appServerPublicKey: APP_KEY,
        dsnSource: dsnTemplate("SN{seq:7}", 1, ledger), ledger, controlLogDir: dir, count: 2,
        protocol: { timeoutMs: 400 }, presence: { misses: 1_000_000 },
        onEvent: (e) => void (e.type === "waiting" && waits.push(e.for)),
        listPorts: async () => {
          // /dev/ttyUSB7 follows the fixture's current pseudo-terminal, and is gone while it is empty.
          const dev = join(root, "dev/ttyUSB7");
          rmSync(dev, { force: true });
          try {
            symlinkSync(readlinkSync(sim.ports[0]!), dev);
          } catch {
            // No board: no ttyUSB7.
          }
          return list();
        },
      });
      expect(summary).toMatchObject({ provisioned: 2, failed: 0 });
      expect(sim.devices().slice(0, 2).every((d) => d.stored)).toBe(true);
      expect(waits).toContain("port");
    } finally {
      await ledger.close();
      await sim.close();
      rmSync(root, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("default banners", () => {
  test("a boot whose `*** Booting` line is lost still shows by `*** Using Zephyr OS`", async () => {
    const { bootBannerWith, DEFAULT_BOOT_BANNER } = await import("../../src/device/protocol/client.ts");
    expect(DEFAULT_BOOT_BANNER.test("*** Using Zephyr OS v3.6.99-100befc70c74 ***")).toBe(true);
    expect(DEFAULT_BOOT_BANNER.test("*** Booting Sidewalk v2.7.0 ***")).toBe(true);
    expect(DEFAULT_BOOT_BANNER.test("[00000012] <info> app: Sidewalk factory test application started")).toBe(false);
    const extended = bootBannerWith(["factory test application started"]);
    expect(extended.test("[00000012] <info> app: Sidewalk factory test application started")).toBe(true);
    expect(extended.test("*** Using Zephyr OS v3.6.99 ***")).toBe(true);
  });
});

describe("a finished board that reboots in the fixture", () => {
  test("its banner, with sid_mfg saying its store is written, does not start it again; the next board does start", async () => {
    const run = await runStation({ transport: "pty", banner: "sidewalk", lingerMs: 2000, swapMs: 1000, rebootLingering: true }, { count: 2 });
    expectOncePerBoard(run, 2);
    expect(run.events.filter((e) => e.type === "warning" && e.message.includes("the finished board rebooted in the fixture")).length).toBe(1);
  }, 30_000);

  test("a release build (no banner) silent for 1.2 s, longer than the quiet threshold, then back saying its store is written: not started again", async () => {
    // Default presence settings: the fixture counts as empty after about 0.75 s (a 1 s swap is caught).
    const run = await runStation(
      { transport: "pty", banner: "none", lingerMs: 4000, swapMs: 1000, rebootLingering: true, rebootSilentMs: 1200 },
      { count: 2, presence: {} },
    );
    expectOncePerBoard(run, 2);
    expect(run.events.filter((e) => e.type === "warning").map((e) => (e as Extract<LineEvent, { type: "warning" }>).message)).toEqual([
      `${run.sim.ports[0]}: the finished board rebooted in the fixture (it holds its manufacturing store); it is not provisioned again: take it out`,
    ]);
    // It went quiet (counted as gone), came back as itself, and was then waited for again.
    expect(waits(run)).toEqual(["board", "board-removed", "next-board", "board-removed", "next-board"]);
  }, 30_000);
});
