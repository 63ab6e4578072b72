// Checks --json records against the event schema (`sign --json-schema`): the envelope, the
// record type's required fields and enums.
export type Schema = { properties: Record<string, { const?: unknown; enum?: unknown[] }>; required: string[]; oneOf: { title: string; required: string[]; properties: Record<string, { enum?: unknown[] }> }[] };

/** Checks a record against the schema's envelope and its type's required fields and enums. */
export function conforms(schema: Schema, r: Record<string, unknown>): string[] {
  const problems = schema.required.filter((k) => !(k in r)).map((k) => `missing ${k}`);
  if (r.schema !== schema.properties.schema!.const || r.version !== schema.properties.version!.const) problems.push("wrong schema/version");
  const type = schema.oneOf.find((t) => t.title === r.type);
  if (!type) return [...problems, `unknown type ${r.type}`];
  for (const k of type.required) if (!(k in r)) problems.push(`${r.type}: missing ${k}`);
  for (const [k, p] of Object.entries(type.properties)) if (p.enum && k in r && !p.enum.includes(r[k])) problems.push(`${r.type}.${k} = ${JSON.stringify(r[k])}`);
  return problems;
}
