// A device link: the text lines of one device's byte channel (channel.ts). Bytes are split
// into lines by serialport's ReadlineParser; the device's lines end in LF or CR LF.
import { ReadlineParser } from "@serialport/parser-readline";
import type { ByteChannel } from "./channel.ts";

export interface DeviceLink {
  /** How the operator named the port (`/dev/ttyUSB0`, `COM3`, `socket://10.0.0.5:4001`). */
  readonly name: string;
  /** Sends text as bytes (latin1, so every char code below 256 is one byte). */
  write(text: string): Promise<void>;
  /** The one consumer of received lines (without the line end). */
  onLine(handler: (line: string) => void): void;
  /** Called once when the link goes away (unplugged, connection closed, or close()). */
  onClose(handler: (error?: Error) => void): void;
  close(): Promise<void>;
}

export function linkFromChannel(channel: ByteChannel): DeviceLink {
  const parser = new ReadlineParser({ delimiter: "\n", encoding: "latin1" });
  let lineHandler: (line: string) => void = () => {};
  parser.on("data", (line: string) => lineHandler(line));
  channel.onData((chunk) => parser.write(chunk));
  return {
    name: channel.name,
    write: (text) => channel.write(Buffer.from(text, "latin1")),
    onLine(handler) {
      lineHandler = handler;
    },
    onClose: (handler) => channel.onClose(handler),
    close: () => channel.close(),
  };
}
