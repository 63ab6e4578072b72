// swtool smsn: computes a device's SMSN on the PC, as the device's `cert smsn` does.
import { defineCommand } from "citty";
import { computeSmsn, parseStage, smsnHashInput, toHex } from "../sidewalk/index.ts";
import { printResult, println } from "./output.ts";

export default defineCommand({
  meta: { name: "smsn", description: "Compute a device's SMSN from device type, DSN, APID and stage" },
  args: {
    "device-type": { type: "string", alias: ["d"], description: "Device type id (Sidewalk console)", required: true },
    dsn: { type: "string", alias: ["D"], description: "Device serial number (at most 16 characters)", required: true },
    apid: { type: "string", alias: ["a"], description: "Advertised product id (4 characters)", required: true },
    stage: { type: "string", description: "production | preproduction | test", default: "production" },
    "board-id": { type: "string", description: "Optional board id appended to the hash input" },
  },
  run({ args }) {
    const input = {
      deviceType: args["device-type"],
      dsn: args.dsn,
      apid: args.apid,
      stage: parseStage(args.stage),
      ...(args["board-id"] ? { boardId: args["board-id"] } : {}),
    };
    const smsn = toHex(computeSmsn(input));
    printResult({ smsn, hashInput: smsnHashInput(input), ...input }, () => println(smsn));
  },
});
