// Lists serial ports for `swtool ports`: on Linux from /sys/class/tty (USB adapters carry
// vendor id, product id, manufacturer and serial number in their USB device directory); on
// Windows from the registry's SERIALCOMM map (names only). Shaped like serialport's PortInfo.
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import type { PortInfo } from "@serialport/bindings-interface";

const readText = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
};

/** Walks up from a tty's device directory to the USB device that owns it. */
function usbAncestor(deviceDir: string, sysfs = "/sys"): string | undefined {
  for (let dir = deviceDir; dir !== "/" && dir.startsWith(`${sysfs}/`); dir = dirname(dir)) {
    if (existsSync(join(dir, "idVendor"))) return dir;
  }
  return undefined;
}

export function listLinuxPorts(sysClassTty = "/sys/class/tty", dev = "/dev"): PortInfo[] {
  let names: string[];
  try {
    names = readdirSync(sysClassTty);
  } catch {
    return [];
  }
  const ports: PortInfo[] = [];
  for (const name of names.sort()) {
    const entry = join(sysClassTty, name);
    // Virtual consoles and pseudo-terminals have no device behind them.
    if (!existsSync(join(entry, "device"))) continue;
    const deviceDir = realpathSync(join(entry, "device"));
    // Legacy 8250 UARTs are always listed by the kernel; type 0 means no chip answered.
    if (/^ttyS\d+$/.test(name) && readText(join(entry, "type")) === "0") continue;
    const usb = usbAncestor(deviceDir, realpathSync(dirname(dirname(sysClassTty))));
    const byId = usb ? findById(join(dev, "serial", "by-id"), name) : undefined;
    ports.push({
      path: join(dev, name),
      manufacturer: usb ? readText(join(usb, "manufacturer")) : undefined,
      serialNumber: usb ? readText(join(usb, "serial")) : undefined,
      pnpId: byId,
      locationId: usb ? usb.split("/").pop() : undefined,
      vendorId: usb ? readText(join(usb, "idVendor")) : undefined,
      productId: usb ? readText(join(usb, "idProduct")) : undefined,
    });
  }
  return ports;
}

function findById(dir: string, ttyName: string): string | undefined {
  try {
    for (const link of readdirSync(dir)) {
      if (realpathSync(join(dir, link)).endsWith(`/${ttyName}`)) return link;
    }
  } catch {
    // No udev by-id links (containers, minimal systems).
  }
  return undefined;
}

/** Windows: COM port names from HKLM\HARDWARE\DEVICEMAP\SERIALCOMM (the OS gives no USB ids there). */
export function listWindowsPorts(): PortInfo[] {
  const proc = Bun.spawnSync(["reg", "query", "HKLM\\HARDWARE\\DEVICEMAP\\SERIALCOMM"], { stdout: "pipe", stderr: "pipe" });
  if (proc.exitCode !== 0) return [];
  const ports: PortInfo[] = [];
  for (const line of proc.stdout.toString().split(/\r?\n/)) {
    const m = /^\s+(\S+)\s+REG_SZ\s+(COM\d+)\s*$/.exec(line);
    if (m) ports.push({ path: m[2]!, manufacturer: undefined, serialNumber: undefined, pnpId: m[1], locationId: undefined, vendorId: undefined, productId: undefined });
  }
  return ports.sort((a, b) => Number(a.path.slice(3)) - Number(b.path.slice(3)));
}

export async function listPorts(): Promise<PortInfo[]> {
  return process.platform === "win32" ? listWindowsPorts() : listLinuxPorts();
}
