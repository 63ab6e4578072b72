// Every output path of a signing run checked before the first HSM command: a run that cannot
// write its result must not spend a DAK signature (each counts against the DAK's lifetime limit).
import { checkDirectory, checkOutputPath } from "../../lib/atomic.ts";

export function checkOutputs(o: { output?: string; outDir?: string; controlLogDir?: string; createControlLogDir?: boolean }): void {
  if (o.output !== undefined) checkOutputPath(o.output, { replace: true });
  if (o.outDir !== undefined) checkDirectory(o.outDir, "-o", { create: true });
  if (o.controlLogDir !== undefined) checkDirectory(o.controlLogDir, "--control_log_dir", { create: o.createControlLogDir ?? false });
}
