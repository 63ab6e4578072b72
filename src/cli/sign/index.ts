// swtool sign: a drop-in for Amazon's sid_signing_tool (same flags, outputs and refusals),
// plus batch signing (--batch) and the production line (--port). The flags decide the mode
// (mode.ts); each mode is its own file.
import { defineCommand } from "citty";
import { withHelpGroups } from "../help.ts";
import { eventRecord, type RunMode } from "../events.ts";
import { log, output } from "../output.ts";
import { signArgs, SIGN_HELP_GROUPS } from "./args.ts";
import { signBatch } from "./batch.ts";
import { signLine } from "./line.ts";
import { resolveSignMode } from "./mode.ts";
import { signOne } from "./one.ts";

export default withHelpGroups(
  defineCommand({
    meta: { name: "sign", description: "Sign device certificates with the HSM's DAK (drop-in for sid_signing_tool)" },
    args: signArgs,
    async run({ args, rawArgs }) {
      // With --json an error ends the run as one more record of the event schema.
      let kind: RunMode = rawArgs.some((a) => a === "--port" || a.startsWith("--port=")) ? "line" : rawArgs.some((a) => a === "--batch" || a.startsWith("--batch=")) ? "batch" : "one";
      output.errorRecord = (e) => eventRecord({ type: "error", message: e.message, ...(e.advice ? { advice: e.advice } : {}), exitCode: e.exitCode }, kind);
      const mode = resolveSignMode(args, rawArgs);
      kind = mode.kind;
      for (const warning of mode.warnings) log.warn(warning);
      if (mode.kind === "line") return signLine(mode, args, rawArgs);
      if (mode.kind === "batch") return signBatch(mode, args);
      return signOne(mode, args);
    },
  }),
  SIGN_HELP_GROUPS,
);
