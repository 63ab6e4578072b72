// The ledger flags shared by the commands that use it. `--ledger` is a SQLite file or a
// PostgreSQL URL; the database password comes from PGPASSWORD or a file, never a flag.
// The line adds who runs it (--station, --operator, --work-order), recorded with each attempt.
import type { ArgsDef } from "citty";
import type { OpenLedgerOptions } from "../ledger/ledger.ts";

export const ledgerPasswordArgs = {
  "ledger-password-file": { type: "string", description: "File holding the PostgreSQL ledger's password (else PGPASSWORD)" },
} as const satisfies ArgsDef;

export const stationArgs = {
  station: { type: "string", description: "This line PC's name in the ledger (default: the host name; give each station on one PC its own)" },
  operator: { type: "string", description: "Operator recorded with each attempt" },
  "work-order": { type: "string", description: "Work order recorded with each attempt" },
} as const satisfies ArgsDef;

export function ledgerPasswordOption(args: { "ledger-password-file"?: string }): { passwordFile?: string } {
  return args["ledger-password-file"] !== undefined ? { passwordFile: args["ledger-password-file"] } : {};
}

export function stationOptions(args: { "ledger-password-file"?: string; station?: string; operator?: string; "work-order"?: string }): OpenLedgerOptions {
  return {
    ...ledgerPasswordOption(args),
    ...(args.station ? { station: args.station } : {}),
    ...(args.operator ? { operator: args.operator } : {}),
    ...(args["work-order"] ? { workOrder: args["work-order"] } : {}),
  };
}
