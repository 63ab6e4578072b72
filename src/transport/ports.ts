// Lists serial ports for `swtool ports`: on Linux from /sys/class/tty (USB adapters carry
// vendor id, product id, manufacturer and serial number in their USB device directory); on
// Windows from the registry (SERIALCOMM for the names, the device tree under Enum for USB ids).
// Shaped like serialport's PortInfo.
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

const SERIALCOMM = "HKLM\\HARDWARE\\DEVICEMAP\\SERIALCOMM";
const ENUM = "HKLM\\SYSTEM\\CurrentControlSet\\Enum";

function regQuery(args: string[]): string {
  const proc = Bun.spawnSync(["reg", "query", ...args], { stdout: "pipe", stderr: "pipe" });
  return proc.exitCode === 0 ? proc.stdout.toString() : "";
}

/** USB identity of a device instance key under Enum: USB\VID_0403&PID_6001\A50285BI, FTDIBUS\VID_0403+PID_6001+A50285BIA\0000. */
function usbIdentity(instance: string): Pick<PortInfo, "vendorId" | "productId" | "serialNumber"> | undefined {
  const m = /\\(USB|FTDIBUS)\\VID_([0-9A-F]{4})[&+]PID_([0-9A-F]{4})(?:&MI_[0-9A-F]{2})?(?:\+([^\\]+))?\\([^\\]+)$/i.exec(instance);
  if (!m) return undefined;
  const [, bus, vid, pid, ftdiSerial, last] = m;
  let serial: string | undefined;
  // FTDI's bus driver names the instance serial + port letter (A for one-port chips, A-D for FT4232).
  if (bus!.toUpperCase() === "FTDIBUS") serial = ftdiSerial?.replace(/[A-D]$/, "");
  // Windows makes up an instance id with '&' in it when the device has no serial number.
  else if (!last!.includes("&")) serial = last;
  return { vendorId: vid!.toLowerCase(), productId: pid!.toLowerCase(), serialNumber: serial };
}

/**
 * Windows ports from two registry reads: the COM names connected now (SERIALCOMM, written by
 * every serial driver), and for each, the device that owns it: the Enum key whose Device
 * Parameters hold its PortName gives USB vendor and product id, serial number and the driver's
 * manufacturer (Mfg). Pure, for tests: the two texts are `reg query` outputs.
 */
export function parseWindowsPorts(serialComm: string, enumTree: string): PortInfo[] {
  const devices = new Map<string, { instance: string; mfg?: string }>();
  const mfgOf = new Map<string, string>();
  let key = "";
  for (const line of enumTree.split(/\r?\n/)) {
    if (line.startsWith("HKEY_")) {
      key = line.trim();
      continue;
    }
    const value = /^\s+(\S+)\s+REG_SZ\s+(.*?)\s*$/.exec(line);
    if (!value) continue;
    if (value[1] === "Mfg") mfgOf.set(key, value[2]!.split(";").pop()!);
    if (value[1] === "PortName" && /\\Device Parameters$/i.test(key)) devices.set(value[2]!.toUpperCase(), { instance: key.replace(/\\Device Parameters$/i, "") });
  }
  const ports: PortInfo[] = [];
  for (const line of serialComm.split(/\r?\n/)) {
    const m = /^\s+(\S+)\s+REG_SZ\s+(COM\d+)\s*$/i.exec(line);
    if (!m) continue;
    const device = devices.get(m[2]!.toUpperCase());
    const usb = device ? usbIdentity(device.instance) : undefined;
    ports.push({
      path: m[2]!,
      manufacturer: device ? mfgOf.get(device.instance) : undefined,
      serialNumber: usb?.serialNumber,
      pnpId: device ? device.instance.replace(/^HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\/i, "") : m[1],
      locationId: undefined,
      vendorId: usb?.vendorId,
      productId: usb?.productId,
    });
  }
  return ports.sort((a, b) => Number(a.path.slice(3)) - Number(b.path.slice(3)));
}

/** Windows: the connected COM ports (SERIALCOMM), with USB ids and serial numbers from the device tree. */
export function listWindowsPorts(): PortInfo[] {
  const serialComm = regQuery([SERIALCOMM]);
  return serialComm ? parseWindowsPorts(serialComm, regQuery([ENUM, "/s"])) : [];
}

export async function listPorts(): Promise<PortInfo[]> {
  return process.platform === "win32" ? listWindowsPorts() : listLinuxPorts();
}
