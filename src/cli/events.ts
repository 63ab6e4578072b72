// The machine interface of `swtool sign --json`: one JSON object per line, the same envelope
// for the line (--port), batch (--batch) and one-shot runs, described by the JSON Schema in
// schemas/sign-events.schema.json (printed by `swtool sign --json-schema`). Every record has
// `schema`, `version`, `time`, `mode` and `type`; a breaking change bumps `version`.
import schemaDocument from "../../schemas/sign-events.schema.json";

export const EVENT_SCHEMA = "swtool.sign.event";
export const EVENT_SCHEMA_VERSION = 2;

export type RunMode = "line" | "batch" | "one";

export function eventRecord(event: { type: string } & Record<string, unknown>, mode: RunMode = "line"): Record<string, unknown> {
  return { schema: EVENT_SCHEMA, version: EVENT_SCHEMA_VERSION, time: new Date().toISOString(), mode, ...event };
}

/** Prints one event record on stdout (one line). */
export function printEvent(event: { type: string } & Record<string, unknown>, mode: RunMode): void {
  process.stdout.write(JSON.stringify(eventRecord(event, mode)) + "\n");
}

export function eventSchemaText(): string {
  return JSON.stringify(schemaDocument, null, 2) + "\n";
}
