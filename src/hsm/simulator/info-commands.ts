// Simulated device: commands about the device itself (echo, device info, storage info,
// pseudo-random bytes).
import { randomBytes } from "node:crypto";
import { deviceInfo } from "../commands/device-info.ts";
import { echo } from "../commands/echo.ts";
import { getPseudoRandom } from "../commands/get-pseudo-random.ts";
import { getStorageInfo } from "../commands/get-storage-info.ts";
import { CMD } from "../protocol.ts";
import { fault, requireCapability, type CommandContext } from "./access.ts";
import { PAGE_SIZE, TOTAL_PAGES, TOTAL_RECORDS } from "./state.ts";

export const FIRMWARE: [number, number, number] = [2, 4, 0];
export const PART_NUMBER = "SWTOOL-SIM";
/** Algorithms a YubiHSM 2 on firmware 2.4 reports (python-yubihsm defs.ALGORITHM values). */
const ALGORITHMS = [...Array.from({ length: 55 }, (_, i) => i + 1).filter((a) => a !== 0)];

type Handler = (ctx: CommandContext, data: Uint8Array) => Uint8Array;

export const infoCommands: Record<number, Handler> = {
  [CMD.ECHO]: (_ctx, data) => echo.encodeResponse(echo.decodeRequest(data)),
  [CMD.DEVICE_INFO](ctx, data) {
    // Firmware 2.4 pages the answer: page 1 is the part number.
    if (data.length === 1 && data[0] === 1) return new TextEncoder().encode(PART_NUMBER);
    if (data.length > 1 || (data.length === 1 && data[0] !== 0)) throw fault("INVALID_DATA", "unknown device-info page");
    return deviceInfo.encodeResponse({ version: FIRMWARE, serial: ctx.state.serial, logSize: 62, logUsed: 0, algorithms: ALGORITHMS });
  },
  [CMD.GET_STORAGE_INFO](ctx, data) {
    getStorageInfo.decodeRequest(data);
    return getStorageInfo.encodeResponse({
      totalRecords: TOTAL_RECORDS,
      freeRecords: TOTAL_RECORDS - ctx.state.objects.size,
      totalPages: TOTAL_PAGES,
      freePages: TOTAL_PAGES - ctx.state.usedPages(),
      pageSize: PAGE_SIZE,
    });
  },
  [CMD.GET_PSEUDO_RANDOM](ctx, data) {
    requireCapability(ctx, "GET_PSEUDO_RANDOM");
    const length = getPseudoRandom.decodeRequest(data);
    if (length > 2048 - 4) throw fault("WRONG_LENGTH", "too many random bytes asked");
    return getPseudoRandom.encodeResponse(new Uint8Array(randomBytes(length)));
  },
};
