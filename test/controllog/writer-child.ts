// Child process for the writer tests: writes control logs into a directory as a signing
// station would. Usage: bun writer-child.ts DIR ENTRIES.json COUNT|forever [NOW-ISO]
import { readFileSync } from "node:fs";
import { writeControlLog } from "../../src/controllog/writer.ts";

const [dir, entriesFile, count, now] = process.argv.slice(2);
const entries = JSON.parse(readFileSync(entriesFile!, "utf8"));
const options = now ? { now: new Date(now) } : {};
process.stdout.write("ready\n");
for (let i = 0; count === "forever" || i < Number(count); i++) {
  await writeControlLog(dir!, entries, options);
}
