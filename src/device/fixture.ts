// One fixture of the line: its port (opened again when a USB UART re-enumerates, found by USB
// serial number with `usb:SERIAL`), and how the station tells that the next board is in.
// By default whichever comes first of: a boot banner after the last answer of the finished
// board; the fixture going quiet (the board taken out: a harmless probe gets no bytes back
// for a while) and answering again (the next board); the port vanishing and coming back.
// A finished board still sitting in the fixture answers the probe, so it is never started
// again. With `--next-device prompt` the operator presses Enter (or scans the DSN).
import { SwtoolError } from "../lib/errors.ts";
import { sleep } from "../lib/sleep.ts";
import type { PortInfo } from "@serialport/bindings-interface";
import { listPorts } from "../transport/ports.ts";
import { openDeviceLink, type SerialSettings } from "../transport/open.ts";
import { CertClient, type CertClientOptions } from "./protocol/client.ts";

export const USB_PREFIX = "usb:";

/** The serial ports with their USB serial numbers (`swtool ports`). */
export type PortLister = () => Promise<PortInfo[]>;

/** What a fixture is waiting for; the operator's view says it in words. */
export type WaitingFor = "board" | "board-removed" | "next-board" | "port" | "enter" | "dsn-scan" | "hsm" | "slot";

export const WAITING_TEXT: Record<WaitingFor, string> = {
  board: "waiting for a board to answer",
  "board-removed": "done: take the board out (or the next one's boot banner)",
  "next-board": "empty: put in the next board",
  port: "port gone: waiting for it to come back",
  enter: "put in a board and press Enter",
  "dsn-scan": "put in a board and scan its DSN",
  hsm: "line paused: waiting for the HSM",
  slot: "waiting: enough devices in flight for --count",
};

export interface PresenceOptions {
  /** Pause between probes (default 100 ms). */
  intervalMs?: number;
  /** How long a probe waits for any byte (default 150 ms). */
  probeTimeoutMs?: number;
  /**
   * Consecutive silent probes that mean the fixture is empty (default 3: misses x (interval +
   * probe timeout) = about 0.75 s). It must stay below the shortest swap presence is to catch
   * (1 s): a longer threshold would take the next board for the finished one. A finished board
   * silent for longer (a slow reboot) is told apart by what it says when it is back (sid_mfg's
   * "Successfully parsed mfg data"); one that reboots silently and says nothing cannot be, by
   * presence: such firmware needs a banner or `--next-device prompt`.
   */
  misses?: number;
  /** How long the boot output after a banner is read before deciding (default 300 ms). */
  bootSettleMs?: number;
}

/** sid_mfg's start-up line on a board whose manufacturing store is written. */
export const PROVISIONED_BOOT = /sid_mfg: Successfully parsed mfg data/;
const MFG_BOOT = /sid_mfg: /;

/** The operator's lines (Enter, or a scanned DSN), handed to the fixtures in the order they wait. */
export interface OperatorInput {
  next(signal: AbortSignal): Promise<string | undefined>;
}

/** Finds the port path of a USB serial adapter by its serial number (`swtool ports` shows them). */
export async function resolvePortSpec(spec: string, list: PortLister = listPorts): Promise<string> {
  if (!spec.startsWith(USB_PREFIX)) return spec;
  const serial = spec.slice(USB_PREFIX.length);
  const found = (await list()).find((p) => p.serialNumber === serial);
  if (!found) throw new SwtoolError(`no serial port with USB serial number ${serial} is connected`, { advice: "`swtool ports` lists the ports and their serial numbers" });
  return found.path;
}

export class FixturePort {
  client: CertClient | undefined;

  constructor(
    /** As given: a path, COM3, socket://host:port, or usb:SERIAL. */
    readonly name: string,
    private readonly serial: SerialSettings | undefined,
    private readonly protocol: CertClientOptions | undefined,
    private readonly list: PortLister = listPorts,
  ) {}

  async open(): Promise<CertClient> {
    // usb:SERIAL is looked up again at every open: the adapter may come back under another name.
    const path = await resolvePortSpec(this.name, this.list);
    this.client = new CertClient(await openDeviceLink(path, this.serial), this.protocol);
    return this.client;
  }

  /** Opens the port again once it is back (a USB UART re-enumerated); undefined when stopped. */
  async reopen(signal: AbortSignal, intervalMs = 200): Promise<CertClient | undefined> {
    await this.close();
    while (!signal.aborted) {
      try {
        return await this.open();
      } catch {
        await sleep(intervalMs, signal);
      }
    }
    return undefined;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    await c?.link.close().catch(() => {});
  }
}

export interface NextBoardOptions {
  presence?: PresenceOptions;
  onWaiting: (what: WaitingFor) => void;
  /** The finished board rebooted without leaving the fixture (it is not started again). */
  onRebooted?: () => void;
  signal: AbortSignal;
}

/**
 * Waits until a board is in the fixture and answers. `finished`: the board there now has
 * just been provisioned (or failed), so only a new one counts: a banner after its last
 * answer, the fixture quiet and then answering, or the port coming back.
 * Resolves with the client to use, or undefined when the line stops.
 */
export async function waitForBoard(port: FixturePort, finished: boolean, options: NextBoardOptions): Promise<CertClient | undefined> {
  const interval = options.presence?.intervalMs ?? 100;
  const probeTimeout = options.presence?.probeTimeoutMs ?? 150;
  const misses = options.presence?.misses ?? 3;
  const { signal } = options;
  let client = port.client;
  let gone = !finished;
  let bootMark = finished && client ? client.answerMark : Infinity;
  let quiet = 0;
  /** Where the finished board fell quiet: what the fixture says after it tells who came back. */
  let goneMark: number | undefined;
  let announced: WaitingFor | undefined;
  const say = (what: WaitingFor) => {
    if (announced !== what) options.onWaiting((announced = what));
  };
  say(finished ? "board-removed" : "board");
  while (!signal.aborted) {
    if (!client || client.isClosed) {
      say("port");
      client = await port.reopen(signal);
      if (!client) return undefined;
      // A port that came back holds a new board.
      gone = true;
      say("board");
      continue;
    }
    const heard = client.lineMark;
    const asked = Date.now();
    const result = await client.probe(probeTimeout, finished && !gone ? bootMark : Infinity);
    // Bytes that came in while this process was busy are read before "silent" is believed
    // (a timer turn, not a microtask: the port's reads run in between).
    if (result === "silent") await sleep(1, signal);
    // A probe that took far longer than its timeout says nothing (the PC was stalled).
    const stalled = Date.now() - asked > 2 * probeTimeout + 100;
    if (result === "boot") {
      // A banner from a board that never left and says it holds a manufacturing store is the
      // finished board rebooting in the fixture (a power blip): starting it again would give a
      // logged board a new identity.
      // sid_mfg speaks right after the banner; a firmware that does not gets bootSettleMs.
      for (let waited = 0; waited < (options.presence?.bootSettleMs ?? 300) && !client.bootLines.some((l) => MFG_BOOT.test(l)); waited += 20) await sleep(20, signal);
      if (!client.bootLines.some((l) => PROVISIONED_BOOT.test(l))) return client;
      bootMark = client.bootMark;
      options.onRebooted?.();
      continue;
    }
    if (result === "closed") continue;
    if (result === "answered" || client.lineMark > heard) {
      // Something in the fixture answers: a new board once the old one went away, unless
      // what came back says its manufacturing store is written: the finished board, back
      // from a silent reboot longer than the quiet threshold (a release build prints no banner).
      if (gone && finished && goneMark !== undefined && client.linesSince(goneMark).some((l) => PROVISIONED_BOOT.test(l))) {
        gone = false;
        goneMark = undefined;
        quiet = 0;
        options.onRebooted?.();
        say("board-removed");
      } else if (gone) return client;
      quiet = 0;
    } else if (!stalled && ++quiet >= misses && !gone) {
      gone = true;
      goneMark = client.lineMark;
      say("next-board");
    }
    await sleep(interval, signal);
  }
  return undefined;
}

/**
 * Whether the board found earlier still answers: one taken out while the line waited (HSM
 * paused, no --count slot) must not be given a DSN. True at the first answer or boot banner,
 * false after `misses` silent probes in a row (or when the port went away).
 */
export async function boardStillThere(client: CertClient, presence: PresenceOptions | undefined, signal: AbortSignal): Promise<boolean> {
  const misses = presence?.misses ?? 3;
  for (let i = 0; i < Math.min(misses, 10) && !signal.aborted; i++) {
    const result = await client.probe(presence?.probeTimeoutMs ?? 150);
    if (result === "answered" || result === "boot") return true;
    if (result === "closed") return false;
    await sleep(presence?.intervalMs ?? 100, signal);
  }
  return false;
}

/** `--next-device prompt`: the operator's Enter (or scanned DSN), then a board that answers. */
export async function waitForOperator(port: FixturePort, input: OperatorInput, scan: boolean, options: NextBoardOptions): Promise<{ client: CertClient; line: string } | undefined> {
  const { signal } = options;
  for (;;) {
    options.onWaiting(scan ? "dsn-scan" : "enter");
    const line = await input.next(signal);
    if (line === undefined || signal.aborted) return undefined;
    let client = port.client;
    if (!client || client.isClosed) client = await port.reopen(signal);
    if (!client) return undefined;
    // The board should answer at once; give it a second to boot.
    for (let attempt = 0; attempt < 6 && !signal.aborted; attempt++) {
      const r = await client.probe(options.presence?.probeTimeoutMs ?? 200);
      if (r === "answered") return { client, line: line.trim() };
      if (r === "closed") break;
    }
  }
}
