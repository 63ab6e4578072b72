// Ground-truth data: the real Amazon vectors in ../shared/vectors (beside the repository).
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const REPO = join(import.meta.dir, "..", "..");
export const SHARED_VECTORS = join(REPO, "..", "shared", "vectors");

export const seed = JSON.parse(readFileSync(join(SHARED_VECTORS, "sidewalk-seed.json"), "utf8"));
export const deviceSession: string = readFileSync(join(SHARED_VECTORS, "device-session.txt"), "utf8");
