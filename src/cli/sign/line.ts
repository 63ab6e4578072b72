// `swtool sign --port P [--port P2 ...]`: the production line. The line's own flags and the
// station glue are in cli/line-args.ts; this opens the signer and hands over.
import { readAppKey } from "../../sign/profile.ts";
import { prepareLine, runLineCommand, type LineArgValues } from "../line-args.ts";
import { withSigner } from "../signer-args.ts";
import type { LineMode } from "./mode.ts";
import type { HookArgValues } from "../hooks.ts";
import { checkOutputs } from "./preflight.ts";

export async function signLine(mode: LineMode, args: LineArgValues & HookArgValues, rawArgs: readonly string[]): Promise<void> {
  const { key, maxSignatures } = readAppKey(mode.appKey, mode.apid);
  checkOutputs({ controlLogDir: mode.controlLogDir, createControlLogDir: true });
  // Every line flag, the ledger and the DSN source before the HSM: a typo or a locked ledger
  // is told at once, not after waiting for a free HSM session.
  const plan = await prepareLine(args, rawArgs, { ...(mode.dsn !== undefined ? { dsn: mode.dsn } : {}), controlLogDir: mode.controlLogDir });
  try {
    await withSigner({ ...mode.signer, waitForSession: "unbounded" }, (signer) =>
      runLineCommand(plan, mode.ports, {
        signer,
        deviceType: mode.deviceType,
        apid: mode.apid,
        appServerPublicKey: key,
        controlLogDir: mode.controlLogDir,
        ...(mode.boardId ? { boardId: mode.boardId } : {}),
        ...(mode.dsn ? { dsn: mode.dsn } : {}),
        ...(maxSignatures !== undefined ? { maxSignatures } : {}),
      }),
    );
  } finally {
    await plan.close();
  }
}
