// The test vectors, read through the harness the benchmarks share.
export { deviceSession, REPO, seed, VECTORS } from "../../harness/vectors.ts";
