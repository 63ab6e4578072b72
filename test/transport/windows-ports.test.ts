// swtool ports on Windows, from `reg query` texts as Windows 10 prints them: SERIALCOMM for the
// connected COM ports, the Enum device tree for who owns each (FTDI's FTDIBUS, a CP210x on USB,
// a USB CDC device without a serial number, a motherboard UART). Under Wine: test/windows/.
import { describe, expect, test } from "bun:test";
import { parseWindowsPorts } from "../../src/transport/ports.ts";

const SERIALCOMM = [
  "",
  "HKEY_LOCAL_MACHINE\\HARDWARE\\DEVICEMAP\\SERIALCOMM",
  "    \\Device\\Serial0    REG_SZ    COM1",
  "    \\Device\\VCP0    REG_SZ    COM12",
  "    \\Device\\Silabser0    REG_SZ    COM5",
  "    \\Device\\USBSER000    REG_SZ    COM7",
  "",
].join("\r\n");

const ENUM = [
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\ACPI\\PNP0501\\1",
  "    Mfg    REG_SZ    @msports.inf,%std%;(Standard port types)",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\ACPI\\PNP0501\\1\\Device Parameters",
  "    PortName    REG_SZ    COM1",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\FTDIBUS\\VID_0403+PID_6001+A50285BIA\\0000",
  "    Mfg    REG_SZ    @oem23.inf,%ftdi%;FTDI",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\FTDIBUS\\VID_0403+PID_6001+A50285BIA\\0000\\Device Parameters",
  "    PortName    REG_SZ    COM12",
  "    LatencyTimer    REG_DWORD    0x10",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\USB\\VID_10C4&PID_EA60\\0001",
  "    Mfg    REG_SZ    @oem41.inf,%mfgname%;Silicon Labs",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\USB\\VID_10C4&PID_EA60\\0001\\Device Parameters",
  "    PortName    REG_SZ    COM5",
  "",
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\USB\\VID_2FE3&PID_0100\\6&1A2B3C4D&0&2\\Device Parameters",
  "    PortName    REG_SZ    COM7",
  "",
  // A CP210x unplugged: in the tree, not in SERIALCOMM, so not listed.
  "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\USB\\VID_10C4&PID_EA60\\0002\\Device Parameters",
  "    PortName    REG_SZ    COM9",
  "",
].join("\r\n");

describe("Windows port list", () => {
  test("names from SERIALCOMM; USB ids, serial numbers and manufacturer from the device tree", () => {
    expect(parseWindowsPorts(SERIALCOMM, ENUM)).toEqual([
      { path: "COM1", manufacturer: "(Standard port types)", serialNumber: undefined, pnpId: "ACPI\\PNP0501\\1", locationId: undefined, vendorId: undefined, productId: undefined },
      { path: "COM5", manufacturer: "Silicon Labs", serialNumber: "0001", pnpId: "USB\\VID_10C4&PID_EA60\\0001", locationId: undefined, vendorId: "10c4", productId: "ea60" },
      { path: "COM7", manufacturer: undefined, serialNumber: undefined, pnpId: "USB\\VID_2FE3&PID_0100\\6&1A2B3C4D&0&2", locationId: undefined, vendorId: "2fe3", productId: "0100" },
      // FTDI's serial without the port letter its bus driver appends: the same as Linux shows.
      { path: "COM12", manufacturer: "FTDI", serialNumber: "A50285BI", pnpId: "FTDIBUS\\VID_0403+PID_6001+A50285BIA\\0000", locationId: undefined, vendorId: "0403", productId: "6001" },
    ]);
  });

  test("without the device tree (not readable): names only, as SERIALCOMM gives them", () => {
    expect(parseWindowsPorts(SERIALCOMM, "").map((p) => [p.path, p.pnpId, p.vendorId])).toEqual([
      ["COM1", "\\Device\\Serial0", undefined],
      ["COM5", "\\Device\\Silabser0", undefined],
      ["COM7", "\\Device\\USBSER000", undefined],
      ["COM12", "\\Device\\VCP0", undefined],
    ]);
  });
});
