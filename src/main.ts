#!/usr/bin/env bun
// Entry point of the swtool binary.
import { main, VERSION } from "./cli/index.ts";
import { runCli } from "./cli/run.ts";

const code = await runCli(main, process.argv.slice(2), { version: VERSION });
process.exit(code);
