// Consolidating per-device control logs into the one file uploaded to Amazon (issue 6): read
// every log (streaming in), validate every entry fully (validate.ts), merge identical
// duplicates, refuse two different entries for one SMSN, and write the result atomically
// (streaming out) as the reference's consolidate_cl.py formats it (json.dump, indent 2).
// Nothing is written when anything is invalid, unless skipInvalid asks for the valid rest.
import { createHash } from "node:crypto";
import { dirname } from "node:path";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import { fromHex } from "../lib/bytes.ts";
import { checkDirectory, checkOutputPath, exactName, outputTarget, publishFile, type NameFor, type OutputSink } from "../lib/atomic.ts";
import { controlLogFileName, entryObject, readEntry, type ControlLogEntry } from "./format.ts";
import { controlLogFiles } from "./inputs.ts";
import { DIGEST_LENGTH, SmsnIndex } from "./smsn-index.ts";
import { readEntries, STREAM_THRESHOLD } from "./stream-entries.ts";
import { EntryValidator } from "./validate.ts";

export interface ConsolidateOptions {
  /** Directories, files or glob patterns. */
  paths: string[];
  /** Explicit output path (never overwritten); default: C_CONTROL_LOG_<time>.txt in outDir. */
  output?: string;
  /** Where the default-named output goes (default: the current directory). */
  outDir?: string;
  /** Write the valid entries even when some are invalid. */
  skipInvalid?: boolean;
  /** Only entries for which this returns true are consolidated (e.g. not consolidated before). */
  include?: (entry: ControlLogEntry, path: string) => boolean;
  now?: Date;
  /** Progress: called before each file is read. */
  onFile?: (path: string) => void;
  /** Called as soon as a problem is found. */
  onProblem?: (problem: Problem) => void;
  /** Files above this many bytes are streamed entry by entry (default 16 MiB). */
  streamThreshold?: number;
  /** Told which device logs the output holds (reset when a pass starts over). */
  written?: { reset(): void; add(smsn: string, path: string): void };
  /**
   * Runs once the output is complete under its final name; if it throws, the output is removed
   * (the ledger's record of what the file holds: both happen or neither).
   */
  confirm?: (path: string) => void | Promise<void>;
}

export type ProblemKind = "invalid" | "duplicate" | "conflict" | "empty";

export interface Problem {
  kind: ProblemKind;
  path: string;
  /** Entry index in the file, for entry-level problems. */
  index?: number;
  smsn?: string;
  /** For duplicates and conflicts: the file that had the SMSN first. */
  firstPath?: string;
  reason: string;
}

export interface ConsolidateSummary {
  /** The consolidated file, when one was written. */
  output?: string;
  files: number;
  /** Entries read, valid or not. */
  entries: number;
  /** Distinct devices in the output (or that would be, when nothing was written). */
  devices: number;
  duplicates: number;
  conflicts: number;
  invalid: number;
  /** Entries left out by `include`. */
  excluded: number;
  perApid: Record<string, number>;
  perLabel: Record<string, number>;
  /** Invalid entries and files, conflicts and empty PATH arguments (duplicates are counted). */
  problems: Problem[];
}

/** At most this many duplicate warnings are kept in the summary; all are counted. */
const MAX_DUPLICATE_PROBLEMS = 100;

class NotWritten extends SwtoolError {}

const HEADER = '{\n  "controlLogs": [\n';
const FOOTER = "\n  ]\n}";
const FLUSH_AT = 1 << 20;
const GC_EVERY_FILES = 1000;

function entryText(entry: ControlLogEntry): string {
  return "    " + JSON.stringify(entryObject(entry), null, 2).replaceAll("\n", "\n    ");
}

function digestOf(entry: ControlLogEntry): Uint8Array {
  return createHash("sha256").update(JSON.stringify(entryObject(entry))).digest().subarray(0, DIGEST_LENGTH);
}

/** Buffered writer of the output document. */
class OutputWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  private count = 0;
  constructor(private readonly file: OutputSink) {}

  async add(entry: ControlLogEntry): Promise<void> {
    const text = (this.count++ === 0 ? HEADER : ",\n") + entryText(entry);
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= FLUSH_AT) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length) await this.file.write(this.pending.join(""));
    this.pending = [];
    this.pendingBytes = 0;
  }

  async end(): Promise<void> {
    this.pending.push(FOOTER);
    await this.flush();
  }
}

interface PassResult {
  summary: ConsolidateSummary;
  conflicts: Set<string>;
}

/**
 * One pass over the inputs. The first pass validates and indexes; a second pass (only needed
 * when conflicts are skipped) re-reads, checks each entry is the one validated, and writes the
 * SMSNs not in conflict.
 */
async function pass(options: ConsolidateOptions, out: OutputWriter, index: SmsnIndex, first: PassResult | undefined): Promise<PassResult> {
  const validator = new EntryValidator();
  const conflicts = first?.conflicts ?? new Set<string>();
  const summary: ConsolidateSummary = {
    files: 0,
    entries: 0,
    devices: 0,
    duplicates: 0,
    conflicts: 0,
    invalid: 0,
    excluded: 0,
    perApid: {},
    perLabel: {},
    problems: [],
  };
  const report = (problem: Problem) => {
    if (problem.kind !== "duplicate" || summary.duplicates <= MAX_DUPLICATE_PROBLEMS) summary.problems.push(problem);
    if (!first) options.onProblem?.(problem);
  };
  const onEmpty = (path: string) => report({ kind: "empty", path, reason: "no control logs here" });
  options.written?.reset();
  for await (const path of controlLogFiles(options.paths, onEmpty)) {
    options.onFile?.(path);
    // JSC lets the garbage of parsed logs pile up; a full collection every thousand files
    // keeps the peak flat and low (250,000 logs: 203 MB peak collecting every 2,000 files,
    // 172 MB every 1,000, in the same time).
    if (++summary.files % GC_EVERY_FILES === 0) Bun.gc(true);
    // Files are numbered once, in the first pass; the second reports nothing about them.
    const source = first ? 0 : index.addFile(path);
    const accepted: ControlLogEntry[] = [];
    try {
      readEntries(
        path,
        (raw, i) => {
          summary.entries++;
          let entry: ControlLogEntry;
          try {
            entry = first ? readEntry(raw, i) : validator.check(raw, i);
          } catch (e) {
            if (!(e instanceof SwtoolError)) throw e;
            summary.invalid++;
            report({ kind: "invalid", path, index: i, reason: e.message });
            return;
          }
          accepted.push(entry);
        },
        options.streamThreshold ?? STREAM_THRESHOLD,
      );
    } catch (e) {
      if (!(e instanceof SwtoolError) && (e as NodeJS.ErrnoException).code === undefined) throw e;
      summary.invalid++;
      report({ kind: "invalid", path, reason: e instanceof SwtoolError ? e.message : `cannot read: ${(e as Error).message}` });
      continue;
    }
    for (const entry of accepted) {
      if (options.include && !options.include(entry, path)) {
        summary.excluded++;
        continue;
      }
      const smsn = fromHex(entry.serialNumber, "serialNumber");
      const digest = digestOf(entry);
      if (first) {
        // Second pass: conflicting SMSNs stay out; any other entry must be one the first pass validated.
        if (conflicts.has(entry.serialNumber)) continue;
        if (!index.has(smsn, digest)) {
          throw new SwtoolError(`${path} changed while it was being consolidated (${entry.serialNumber})`, { advice: "run consolidate again once the logs stop changing" });
        }
        if (!index.takeOnce(smsn)) continue;
      } else {
        const seen = index.add(smsn, digest, source);
        if (seen.status === "duplicate") {
          summary.duplicates++;
          report({ kind: "duplicate", path, smsn: entry.serialNumber, firstPath: index.file(seen.source), reason: "identical entry already read; merged" });
          continue;
        }
        if (seen.status === "conflict") {
          summary.conflicts++;
          conflicts.add(entry.serialNumber);
          report({
            kind: "conflict",
            path,
            smsn: entry.serialNumber,
            firstPath: index.file(seen.source),
            reason: `a different entry for SMSN ${entry.serialNumber} is in ${index.file(seen.source)}`,
          });
          continue;
        }
      }
      await out.add(entry);
      options.written?.add(entry.serialNumber, path);
      summary.devices++;
      summary.perApid[entry.apid] = (summary.perApid[entry.apid] ?? 0) + 1;
      summary.perLabel[entry.label] = (summary.perLabel[entry.label] ?? 0) + 1;
    }
  }
  return { summary, conflicts };
}

/** Consolidates control logs; see ConsolidateOptions. Throws only for usage and I/O failures. */
export async function consolidate(options: ConsolidateOptions): Promise<ConsolidateSummary> {
  const now = options.now ?? new Date();
  let dir = options.outDir ?? ".";
  let nameFor: NameFor = (copy) => controlLogFileName(now, copy);
  if (options.output !== undefined) {
    const target = outputTarget(options.output);
    // A second pass rewrites the output from the start, and an invalid input found late must
    // leave nothing: only a file published at the end can promise both.
    if (target.kind !== "file") throw new UsageError(`-o ${options.output}: consolidate writes a file`, { advice: "give a file name; the file appears only once every entry is validated" });
    dir = dirname(target.path);
    nameFor = exactName(target.path);
    checkOutputPath(target.path);
  } else {
    checkDirectory(dir, "the output directory");
  }

  let first: PassResult | undefined;
  const index = new SmsnIndex();
  const run = (second: boolean) =>
    publishFile(dir, nameFor, async (file) => {
      const out = new OutputWriter(file);
      const result = await pass(options, out, index, second ? first : undefined);
      if (second) {
        // The written file's figures come from this pass; the problems from the first.
        Object.assign(first!.summary, { devices: result.summary.devices, perApid: result.summary.perApid, perLabel: result.summary.perLabel });
      } else {
        first = result;
      }
      const summary = first!.summary;
      if (summary.invalid + summary.conflicts > 0 && !options.skipInvalid) throw new NotWritten("invalid input");
      // Entries of a conflicting SMSN were written before the conflict showed: write again without them.
      if (!second && summary.conflicts > 0) throw new NotWritten("second pass");
      if (result.summary.devices === 0) throw new NotWritten("nothing to write");
      await out.end();
    }, options.confirm ? { confirm: options.confirm } : {});
  try {
    const path = await run(false).catch((e) => {
      if (e instanceof NotWritten && e.message === "second pass") return run(true);
      throw e;
    });
    first!.summary.output = path;
  } catch (e) {
    if (!(e instanceof NotWritten)) throw e;
  } finally {
    index.close();
  }
  return first!.summary;
}
