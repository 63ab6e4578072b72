// `swtool demo` (compiled binary): HSM simulator, fixtures on pseudo-terminals, the line,
// consolidation and verification, end to end.
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseControlLog } from "../../src/controllog/format.ts";
import { swtool } from "../helpers/cli.ts";
import { tempDir as scratchDir } from "../helpers/temp.ts";

const dir = scratchDir("demo-test");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("demo provisions every device over real ptys and the consolidated log verifies", async () => {
  const r = await swtool(["demo", "--devices", "7", "--fixtures", "3", "--dir", dir, "--noise", "--json"]);
  expect(r.code).toBe(0);
  const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(events.filter((e) => e.type === "device-done").length).toBe(7);
  const result = events.pop();
  expect(result.type).toBe("result");
  expect(result.ok).toBe(true);
  expect(result.line).toMatchObject({ provisioned: 7, failed: 0, refused: 0 });
  expect(result.chainsVerified).toBe(14);
  expect(result.storedOnDevices).toBe(7);
  expect(readdirSync(join(dir, "logs")).filter((f) => f.startsWith("C_CONTROL_LOG_")).length).toBe(7);
  const entries = parseControlLog(readFileSync(result.consolidated.output, "utf8"));
  expect(entries.length).toBe(7);
  expect(new Set(entries.map((e) => e.serialNumber)).size).toBe(7);
  expect(entries.every((e) => e.apid === "pd25" && e.label === "test")).toBe(true);
});
