// Ground-truth data: real Amazon vectors, kept with the tests in test/vectors/ so that a fresh
// clone with nothing beside it passes (copied from the project's shared vectors, unchanged).
// The tests and the benchmarks both read them through here.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..");
export const VECTORS = join(REPO, "test", "vectors");

export const seed = JSON.parse(readFileSync(join(VECTORS, "sidewalk-seed.json"), "utf8"));
export const deviceSession: string = readFileSync(join(VECTORS, "device-session.txt"), "utf8");
