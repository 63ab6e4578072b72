// GET STORAGE INFO: object slots (records) and storage pages, total and free.
// https://developers.yubico.com/YubiHSM2/Commands/Get_Storage_Info.html
import { Reader } from "../../lib/bytes.ts";
import { concat } from "../../lib/bytes.ts";
import { CMD, u16 } from "../protocol.ts";
import { empty, EMPTY, u16Of, type CommandCodec } from "./command.ts";

export interface StorageInfo {
  totalRecords: number;
  freeRecords: number;
  totalPages: number;
  freePages: number;
  pageSize: number;
}

export const getStorageInfo: CommandCodec<void, StorageInfo> = {
  code: CMD.GET_STORAGE_INFO,
  name: "get-storage-info",
  doc: "https://developers.yubico.com/YubiHSM2/Commands/Get_Storage_Info.html",
  encodeRequest: () => EMPTY,
  decodeRequest: empty("get-storage-info request"),
  encodeResponse: (s) => concat(u16(s.totalRecords), u16(s.freeRecords), u16(s.totalPages), u16(s.freePages), u16(s.pageSize)),
  decodeResponse(data) {
    const r = new Reader(data, "get-storage-info response");
    const out = {
      totalRecords: u16Of(r, "total records"),
      freeRecords: u16Of(r, "free records"),
      totalPages: u16Of(r, "total pages"),
      freePages: u16Of(r, "free pages"),
      pageSize: u16Of(r, "page size"),
    };
    r.end();
    return out;
  },
};
