// Device signatures of consolidate, verified in Bun Workers (verify-worker.ts) while the main
// thread reads and checks the next logs: one worker less than the machine has cores (the main
// thread keeps one), batches of signatures per message (one message per signature would cost
// more than the signature). Each verdict is what curves.ts verify returns for it in the main
// thread: the worker calls the same function. When the workers are behind (or one fails), the
// main thread verifies the batch itself, so nothing waits on a worker that cannot keep up.
import { CURVE_NAMES, CURVES, type Curve } from "../sidewalk/curves.ts";

/** Signatures per message to a worker. */
const BATCH = 64;
/** Batches a worker may have queued before the main thread verifies the next one itself. */
const MAX_IN_FLIGHT = 3;

/** Packed jobs: per job curve (1 byte), then signature, message and key lengths (2 bytes each, LE), then the bytes. */
export interface PackedJobs {
  count: number;
  bytes: Uint8Array;
}
export interface BatchRequest {
  id: number;
  jobs: PackedJobs;
}
/** The first message to a worker: where it counts the batches it has verified. */
export interface WorkerStart {
  done: Int32Array;
}
export interface BatchReply {
  id: number;
  verdicts: Uint8Array;
}

interface Job {
  curve: Curve;
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
  resolve: (ok: boolean) => void;
}

const MAX_FIELD = 0xffff;

/**
 * SWTOOL_DEBUG_VERIFY_POOL=1 (for the tests): every batch goes to a worker, however small and
 * however far behind the workers are, and the pool says on stderr where the batches went.
 */
const DEBUG = process.env.SWTOOL_DEBUG_VERIFY_POOL === "1";
const debug = (message: string) => DEBUG && process.stderr.write(`verify pool: ${message}\n`);

function packJobs(jobs: Job[]): PackedJobs {
  let size = 0;
  for (const j of jobs) size += 7 + j.signature.length + j.message.length + j.publicKey.length;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (const j of jobs) {
    bytes[at] = CURVE_NAMES.indexOf(j.curve);
    view.setUint16(at + 1, j.signature.length, true);
    view.setUint16(at + 3, j.message.length, true);
    view.setUint16(at + 5, j.publicKey.length, true);
    at += 7;
    for (const part of [j.signature, j.message, j.publicKey]) {
      bytes.set(part, at);
      at += part.length;
    }
  }
  return { count: jobs.length, bytes };
}

export function unpackJobs(jobs: PackedJobs, each: (index: number, curve: number, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => void): void {
  const { bytes } = jobs;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  for (let i = 0; i < jobs.count; i++) {
    const curve = bytes[at]!;
    const lengths = [view.getUint16(at + 1, true), view.getUint16(at + 3, true), view.getUint16(at + 5, true)] as const;
    at += 7;
    const [signature, message, publicKey] = lengths.map((n) => {
      const part = bytes.subarray(at, at + n);
      at += n;
      return part;
    }) as [Uint8Array, Uint8Array, Uint8Array];
    each(i, curve, signature, message, publicKey);
  }
}

const verifyHere = (j: Job) => j.resolve(CURVES[j.curve].verify(j.signature, j.message, j.publicKey));

/**
 * From the sources, the worker is beside this file; in the compiled binary (build.ts lists it as
 * an entrypoint), this code is in the main bundle at the root of the sources (src/main.ts) and
 * the worker keeps its place under it.
 */
const WORKER_URL = new URL(import.meta.url.endsWith("/verify-pool.ts") ? "./verify-worker.ts" : "./controllog/verify-worker.ts", import.meta.url).href;

interface PoolWorker {
  worker: Worker;
  /** Batches sent to it. */
  sent: number;
  /** Batches it has verified (shared memory: known before its replies are read). */
  done: Int32Array;
  /** Batches whose verdicts have not come back yet. */
  owed: number;
  failed: boolean;
}

/** Batches a worker has not verified yet. */
const backlog = (w: PoolWorker) => w.sent - Atomics.load(w.done, 0);

export class VerifyPool {
  private readonly workers: PoolWorker[] = [];
  private batch: Job[] = [];
  private readonly waiting = new Map<number, { jobs: Job[]; by: PoolWorker }>();
  private nextId = 0;
  /** Batches verified by the workers and by the main thread (for the tests and the benchmark). */
  readonly counts = { workers: 0, here: 0 };

  /** `workerUrl`: for the tests (a worker that cannot start). */
  constructor(
    private readonly size = Math.max(1, (navigator.hardwareConcurrency || 1) - 1),
    private readonly workerUrl = WORKER_URL,
  ) {}

  /** Signatures queued so far, and those of them sent to a worker or verified here. */
  queued = 0;
  private handled = 0;

  /** Queues one signature; the promise says whether it verifies. Call flush() before awaiting it. */
  verify(curve: Curve, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): Promise<boolean> {
    return new Promise((resolve) => {
      const job = { curve, signature, message, publicKey, resolve };
      if (signature.length > MAX_FIELD || message.length > MAX_FIELD || publicKey.length > MAX_FIELD) return verifyHere(job);
      this.batch.push(job);
      this.queued++;
      if (this.batch.length >= BATCH) this.send();
    });
  }

  /** Sends (or verifies) the signatures queued so far, unless the first `upTo` are sent already. */
  flush(upTo = this.queued): void {
    if (this.batch.length && this.handled < upTo) this.send();
  }

  private send(): void {
    const jobs = this.batch;
    this.batch = [];
    this.handled += jobs.length;
    // A run of a few signatures starts no worker.
    const to = this.queued < BATCH && this.workers.length === 0 && !DEBUG ? undefined : this.idlest();
    if (!to || (backlog(to) >= MAX_IN_FLIGHT && !DEBUG)) {
      this.counts.here++;
      jobs.forEach(verifyHere);
      return;
    }
    const id = this.nextId++;
    this.waiting.set(id, { jobs, by: to });
    // A worker keeps the process alive only while it owes verdicts (an idle one never does).
    if (to.owed++ === 0) to.worker.ref();
    to.sent++;
    this.counts.workers++;
    const request: BatchRequest = { id, jobs: packJobs(jobs) };
    to.worker.postMessage(request, [request.jobs.bytes.buffer as ArrayBuffer]);
  }

  /** The worker with the fewest batches queued, starting one while there are fewer than `size`. */
  private idlest(): PoolWorker | undefined {
    const live = this.workers.filter((w) => !w.failed);
    const best = live.reduce<PoolWorker | undefined>((a, w) => (a && backlog(a) <= backlog(w) ? a : w), undefined);
    if ((best && backlog(best) === 0) || this.workers.length >= this.size) return best;
    return this.start() ?? best;
  }

  private start(): PoolWorker | undefined {
    let worker: Worker;
    try {
      worker = new Worker(this.workerUrl);
    } catch (e) {
      debug(`no worker: ${(e as Error).message}`);
      this.workers.push({ worker: undefined as unknown as Worker, sent: 0, done: new Int32Array(1), owed: 0, failed: true });
      return undefined;
    }
    const entry: PoolWorker = { worker, sent: 0, done: new Int32Array(new SharedArrayBuffer(4)), owed: 0, failed: false };
    worker.unref();
    const hello: WorkerStart = { done: entry.done };
    worker.postMessage(hello);
    worker.onmessage = (event: MessageEvent<BatchReply>) => {
      const { id, verdicts } = event.data;
      const batch = this.waiting.get(id);
      if (!batch) return;
      this.waiting.delete(id);
      if (--entry.owed === 0) worker.unref();
      batch.jobs.forEach((j, i) => j.resolve(verdicts[i] === 1));
    };
    // A worker that fails leaves its batches to the main thread.
    worker.onerror = (event) => {
      event.preventDefault?.();
      debug(`a worker failed: ${event.message}`);
      entry.failed = true;
      for (const [id, batch] of this.waiting) {
        if (batch.by !== entry) continue;
        this.waiting.delete(id);
        this.counts.workers--;
        this.counts.here++;
        batch.jobs.forEach(verifyHere);
      }
      worker.terminate();
    };
    this.workers.push(entry);
    return entry;
  }

  /** Ends the workers (the verdicts asked for are all in by then). */
  close(): void {
    this.batch = [];
    debug(`${this.counts.workers} batches in workers, ${this.counts.here} in the main thread`);
    for (const w of this.workers) if (!w.failed) w.worker.terminate();
  }
}
