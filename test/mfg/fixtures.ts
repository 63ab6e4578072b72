// The manufacturing-page vectors: inputs made by make-inputs.ts and the pages Nordic's real
// provision.py made from them (make-vectors.sh; source revision in expected/SOURCE).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex } from "../../src/lib/bytes.ts";

export const MFG_VECTORS = join(import.meta.dir, "..", "vectors", "mfg");
export const input = (name: string) => join(MFG_VECTORS, "inputs", name);
export const expected = (name: string) => join(MFG_VECTORS, "expected", name);
export const inputJson = (name: string): Record<string, any> => JSON.parse(readFileSync(input(name), "utf8"));
export const expectedBin = (name: string) => new Uint8Array(readFileSync(expected(`${name}.bin`)));
export const expectedHex = (name: string) => readFileSync(expected(`${name}.hex`), "utf8");
export const APP_KEY_HEX = readFileSync(input("testpki-app-key.hex"), "utf8").trim();
export const APP_KEY = fromHex(APP_KEY_HEX);
