// The worker of verify-pool.ts: verifies a batch of device signatures with the native verifier
// (curves.ts verify, the same call as checking in the main thread) and answers one byte each.
// An entrypoint of the compiled binary (build.ts), so `new Worker` finds it inside it.
import { CURVE_NAMES, CURVES } from "../sidewalk/curves.ts";
import { unpackJobs, type BatchReply, type BatchRequest, type WorkerStart } from "./verify-pool.ts";

declare const self: Worker;

let done: Int32Array<ArrayBufferLike> = new Int32Array(1);

self.onmessage = (event: MessageEvent<BatchRequest | WorkerStart>) => {
  if ("done" in event.data) {
    done = event.data.done;
    return;
  }
  const { id, jobs } = event.data;
  const verdicts = new Uint8Array(jobs.count);
  unpackJobs(jobs, (i, curve, signature, message, publicKey) => {
    verdicts[i] = CURVES[CURVE_NAMES[curve]!].verify(signature, message, publicKey) ? 1 : 0;
  });
  const reply: BatchReply = { id, verdicts };
  self.postMessage(reply, [verdicts.buffer as ArrayBuffer]);
  Atomics.add(done, 0, 1);
};
