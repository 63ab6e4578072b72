// `swtool sign --port P [--port P2 ...]`: the production line. The line's own flags and the
// station glue are in cli/line-args.ts; this opens the signer and hands over.
import { readAppKey } from "../../sign/profile.ts";
import { runLineCommand, type LineArgValues } from "../line-args.ts";
import { withSigner } from "../signer-args.ts";
import type { LineMode } from "./mode.ts";
import { checkOutputs } from "./preflight.ts";

export async function signLine(mode: LineMode, args: LineArgValues, rawArgs: readonly string[]): Promise<void> {
  const { key, maxSignatures } = readAppKey(mode.appKey);
  checkOutputs({ controlLogDir: mode.controlLogDir, createControlLogDir: true });
  await withSigner({ ...mode.signer, waitForSession: "unbounded" }, (signer) =>
    runLineCommand(args, rawArgs, mode.ports, {
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
}
