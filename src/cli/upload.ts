// swtool upload FILE --host H --user U --key K: sends a consolidated control log to Amazon's
// SFTP endpoint (temporary name, size check, rename; dropped connections retried).
import { defineCommand } from "citty";
import { resolve } from "node:path";
import { findLedger } from "../controllog/ledger-link.ts";
import { checkControlLogFile } from "../controllog/validate.ts";
import { ledgerPasswordArgs, ledgerPasswordOption } from "./ledger-args.ts";
import { hostName } from "../upload/host-key.ts";
import { uploadFile } from "../upload/upload.ts";
import { log, printResult, println } from "./output.ts";
import { retryOptions, sshArgs, sshTarget } from "./ssh.ts";

export default defineCommand({
  meta: { name: "upload", description: "Upload a consolidated control log to Amazon's SFTP endpoint" },
  args: {
    file: { type: "positional", description: "The consolidated control log (C_CONTROL_LOG_<time>.txt)", required: true },
    ...sshArgs,
    ledger: { type: "string", description: "Ledger to record the upload in (default: swtool.db beside the file, if there)" },
    ...ledgerPasswordArgs,
  },
  async run({ args }) {
    // Amazon gets complete, valid logs only: a truncated or damaged file is refused here.
    const entries = checkControlLogFile(args.file);
    log.debug(`${args.file}: ${entries} valid entries`);
    const target = await sshTarget(args);
    const result = await uploadFile({ file: args.file, target, remoteDir: args["remote-dir"], ...retryOptions(args) });
    const where = `${target.user}@${hostName(target.host, target.port)}:${result.remotePath}`;
    const ledger = await findLedger(args.ledger, [args.file], ledgerPasswordOption(args));
    if (ledger) {
      try {
        await ledger.recordUpload({ file: resolve(args.file), target: `${target.user}@${hostName(target.host, target.port)}`, remotePath: result.remotePath });
        log.info(`recorded in the ledger ${ledger.path}`);
      } finally {
        await ledger.close();
      }
    }
    printResult({ ok: true, file: args.file, target: where, ...result }, () => {
      if (result.alreadyPresent) log.warn(`${where} was already on the server with the same size; not sent again`);
      else log.info(`uploaded ${result.bytes} bytes in ${result.attempts} attempt${result.attempts > 1 ? "s" : ""}`);
      println(where);
    });
  },
});
