// swtool ports: the serial ports this PC has, with what the OS says about each adapter.
import { defineCommand } from "citty";
import { listPorts } from "../transport/ports.ts";
import { printResult, println } from "./output.ts";

export default defineCommand({
  meta: { name: "ports", description: "List serial ports (path, manufacturer, serial number, USB vendor/product id)" },
  args: {},
  async run() {
    const ports = await listPorts();
    printResult(ports, () => {
      if (ports.length === 0) println("no serial ports found");
      for (const p of ports) {
        const usb = p.vendorId ? ` usb ${p.vendorId}:${p.productId ?? "?"}` : "";
        const details = [p.manufacturer, p.serialNumber && `serial ${p.serialNumber}`].filter(Boolean).join(", ");
        println(`${p.path}${usb}${details ? `  ${details}` : ""}`);
      }
    });
  },
});
