// DEVICE INFO: firmware version, serial number, log store, supported algorithms.
// https://developers.yubico.com/YubiHSM2/Commands/Device_Info.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD } from "../protocol.ts";
import { byteOf, type CommandCodec } from "./command.ts";

export interface DeviceInfo {
  version: [number, number, number];
  serial: number;
  logSize: number;
  logUsed: number;
  algorithms: number[];
}

export const deviceInfo: CommandCodec<void, DeviceInfo> = {
  code: CMD.DEVICE_INFO,
  name: "device-info",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Device_Info.html",
  encodeRequest: () => new Uint8Array(0),
  // Firmware 2.4 takes an optional page byte; page 0 is this answer.
  decodeRequest: () => undefined,
  encodeResponse(info) {
    const head = new Uint8Array(9);
    head.set(info.version, 0);
    new DataView(head.buffer).setUint32(3, info.serial);
    head[7] = info.logSize;
    head[8] = info.logUsed;
    return concat(head, new Uint8Array(info.algorithms));
  },
  decodeResponse(data) {
    const r = new Reader(data, "device-info response");
    const version = [...r.take(3, "version")] as [number, number, number];
    const serial = new DataView(r.take(4, "serial").slice().buffer).getUint32(0);
    const logSize = byteOf(r, "log size");
    const logUsed = byteOf(r, "log used");
    return { version, serial, logSize, logUsed, algorithms: [...r.take(r.remaining, "algorithms")] };
  },
};

export function versionString(info: DeviceInfo): string {
  return info.version.join(".");
}
