// The serialport binding swtool uses under Bun: termios on Linux, the Win32 comm API on
// Windows. Plugged into @serialport/stream's SerialPortStream so the stream API and parsers
// work as with serialport's own bindings.
import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo } from "@serialport/bindings-interface";
import { listPorts } from "../ports.ts";
import { openPosixPort } from "./posix-binding.ts";
import { openWindowsPort } from "./windows-binding.ts";

export const BunSerialBinding: BindingInterface<BindingPortInterface, OpenOptions, PortInfo> = {
  list: () => listPorts(),
  async open(options: OpenOptions): Promise<BindingPortInterface> {
    if (!options?.path) throw new TypeError('"path" is not a valid port');
    return process.platform === "win32" ? openWindowsPort(options) : openPosixPort(options);
  },
};
