// Argument sets shared by several commands, defined once and spread into each command.
import type { ArgsDef } from "citty";

/** Accepted by every command, anywhere on the line. */
export const globalArgs = {
  json: { type: "boolean", description: "Machine-readable JSON output on stdout" },
  verbose: { type: "boolean", description: "More detail (never key material or PINs)" },
  quiet: { type: "boolean", description: "Only warnings and errors" },
} as const satisfies ArgsDef;
