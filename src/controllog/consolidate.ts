// Consolidating per-device control logs into the one file uploaded to Amazon (issue 6): read
// every log (streaming in), validate every entry fully (validate.ts), merge identical
// duplicates, refuse two different entries for one SMSN, and write the result atomically
// (streaming out) as the reference's consolidate_cl.py formats it (json.dump, indent 2).
// Nothing is written when anything is invalid, unless skipInvalid asks for the valid rest.
import { createHash } from "node:crypto";
import { SwtoolError } from "../lib/errors.ts";
import { ByteBlock } from "../lib/byte-block.ts";
import { fromHex } from "../lib/bytes.ts";
import { checkDirectory, checkOutputPath, publishFile, writeOutput, type NameFor, type OutputSink } from "../lib/atomic.ts";
import { controlLogFileName, entryObject, type ControlLogEntry } from "./format.ts";
import { controlLogFiles } from "./inputs.ts";
import { DIGEST_LENGTH, SmsnIndex } from "./smsn-index.ts";
import { readEntries, STREAM_THRESHOLD } from "./stream-entries.ts";
import { EntryValidator } from "./validate.ts";
import { VerifyPool } from "./verify-pool.ts";

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
  /** Progress: called for each file, in the order read, before its problems and entries are reported. */
  onFile?: (path: string) => void;
  /** Called as soon as a problem is found. */
  onProblem?: (problem: Problem) => void;
  /** Files above this many bytes are streamed entry by entry (default 16 MiB). */
  streamThreshold?: number;
  /** Told which device logs the output holds (reset when a pass starts over). */
  written?: { reset(): void; add(smsn: string, path: string): void };
  /**
   * Wraps the publishing of the complete output (see PublishOptions.within): the ledger's
   * record of what the file holds happens with it or the file is removed again.
   */
  within?: (publish: () => Promise<string>) => Promise<unknown>;
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

/** Every SMSN of the write pass was in conflict: no file. */
class NothingToWrite extends Error {}

const HEADER = '{\n  "controlLogs": [\n';
const FOOTER = "\n  ]\n}";
const FLUSH_AT = 1 << 20;
const GC_EVERY_FILES = 1000;

/** An entry as the output has it (json.dump, indent 2, inside the controlLogs array). */
function entryText(object: ReturnType<typeof entryObject>): string {
  return "    " + JSON.stringify(object, null, 2).replaceAll("\n", "\n    ");
}

/** The digest of an entry's output text (which says every field of the entry, no more). */
function digestOf(text: string): Uint8Array {
  return createHash("sha256").update(text).digest().subarray(0, DIGEST_LENGTH);
}

/** Buffered writer of the output document, through one reused block of bytes. */
class OutputWriter {
  private readonly block = new ByteBlock(FLUSH_AT);
  private count = 0;
  constructor(private readonly file: OutputSink) {}

  async add(entry: string): Promise<void> {
    await this.put(this.count++ === 0 ? HEADER : ",\n");
    await this.put(entry);
  }

  private async put(text: string): Promise<void> {
    if (this.block.tryAdd(text)) return;
    await this.flush();
    if (!this.block.tryAdd(text)) await this.file.write(text);
  }

  private async flush(): Promise<void> {
    if (this.block.size) await this.file.write(this.block.bytes());
    this.block.clear();
  }

  async end(): Promise<void> {
    await this.put(FOOTER);
    await this.flush();
  }
}

function emptySummary(): ConsolidateSummary {
  return { files: 0, entries: 0, devices: 0, duplicates: 0, conflicts: 0, invalid: 0, excluded: 0, perApid: {}, perLabel: {}, problems: [] };
}

/** What the index pass found: the problems and counts, and what the write pass must leave out. */
interface Indexed {
  summary: ConsolidateSummary;
  /** SMSNs with different entries (few: kept in memory); their first entry is kept, then left out. */
  conflicts: Set<string>;
}

/** One file's outcome: each entry's (in order), then, when the file could not be read to its end, why. */
interface FileRead {
  path: string;
  entries: { index: number; outcome: ControlLogEntry | Promise<ControlLogEntry> }[];
  /** The validator's count of queued signatures once this file was read. */
  signatures: number;
  failure?: Problem;
}

/**
 * Files read ahead of the one being reported, while their signatures verify in the workers
 * (verify-pool.ts): enough to keep every core busy, few enough to keep memory flat.
 */
const READ_AHEAD_FILES = 256;

/**
 * Every entry of every input, validated. The callbacks see exactly what a one-file-at-a-time
 * reading would show, in the same order (onFile, the file's invalid entries, then its valid
 * ones, or its file-level problem), while the next files are already read and their device
 * signatures verified on other cores.
 */
async function forEachEntry(
  options: ConsolidateOptions,
  validator: EntryValidator,
  onEntry: (entry: ControlLogEntry, path: string, index: number) => Promise<void> | void,
  onFile: (path: string) => void,
  onBad: (problem: Problem) => void,
  onEmpty: (path: string) => void = () => {},
): Promise<void> {
  let files = 0;
  const ahead: FileRead[] = [];
  const report = async (file: FileRead) => {
    onFile(file.path);
    const accepted: [ControlLogEntry, number][] = [];
    for (const { index: i, outcome } of file.entries) {
      try {
        // This file's signatures, if still queued (the last files read), are sent rather than waited for.
        if (outcome instanceof Promise) validator.flush(file.signatures);
        accepted.push([outcome instanceof Promise ? await outcome : outcome, i]);
      } catch (e) {
        if (!(e instanceof SwtoolError)) throw e;
        onBad({ kind: "invalid", path: file.path, index: i, reason: e.message });
      }
    }
    if (file.failure) {
      onBad(file.failure);
      return;
    }
    for (const [entry, i] of accepted) await onEntry(entry, file.path, i);
  };
  // What a report threw: it stops the run at once, with the files read ahead left unreported.
  let reportFailure: unknown;
  const reporting = (file: FileRead) =>
    report(file).catch((e) => {
      reportFailure = e;
      throw e;
    });
  try {
    for await (const path of controlLogFiles(options.paths, onEmpty)) {
      // JSC lets the garbage of parsed logs pile up; a full collection every thousand files
      // keeps the peak flat and low (250,000 logs: 203 MB peak collecting every 2,000 files,
      // 172 MB every 1,000, in the same time).
      if (++files % GC_EVERY_FILES === 0) Bun.gc(true);
      const file: FileRead = { path, entries: [], signatures: 0 };
      try {
        readEntries(
          path,
          (raw, i) => {
            let outcome: ControlLogEntry | Promise<ControlLogEntry>;
            try {
              outcome = validator.checkAsync(raw, i);
            } catch (e) {
              outcome = Promise.reject(e);
            }
            // Settled later, in order: no unhandled rejection meanwhile.
            if (outcome instanceof Promise) outcome.catch(() => {});
            file.entries.push({ index: i, outcome });
          },
          options.streamThreshold ?? STREAM_THRESHOLD,
        );
      } catch (e) {
        if (!(e instanceof SwtoolError) && (e as NodeJS.ErrnoException).code === undefined) throw e;
        file.failure = { kind: "invalid", path, reason: e instanceof SwtoolError ? e.message : `cannot read: ${(e as Error).message}` };
      }
      file.signatures = validator.queued;
      ahead.push(file);
      if (ahead.length > READ_AHEAD_FILES) await reporting(ahead.shift()!);
    }
  } catch (e) {
    // An error that stops the run while reading (a bug, an unreadable PATH) still comes after
    // the problems of the files before it, as when files were read one at a time.
    if (e !== reportFailure) while (ahead.length) await report(ahead.shift()!);
    throw e;
  }
  while (ahead.length) await report(ahead.shift()!);
}

/**
 * The index pass: validates every entry fully, records each SMSN with the digest of its entry
 * in the on-disk index, keeps the text of each SMSN's first entry there for the write pass, and
 * finds the identical duplicates and the conflicts. Writes no output.
 */
async function indexPass(options: ConsolidateOptions, index: SmsnIndex): Promise<Indexed> {
  const summary = emptySummary();
  const conflicts = new Set<string>();
  const report = (problem: Problem) => {
    if (problem.kind !== "duplicate" || summary.duplicates <= MAX_DUPLICATE_PROBLEMS) summary.problems.push(problem);
    options.onProblem?.(problem);
  };
  let source = 0;
  const pool = new VerifyPool();
  try {
    await forEachEntry(
      options,
      new EntryValidator(pool),
      (entry, path) => {
        summary.entries++;
        if (options.include && !options.include(entry, path)) {
          summary.excluded++;
          return;
        }
        const text = entryText(entryObject(entry));
        const seen = index.add(fromHex(entry.serialNumber, "serialNumber"), digestOf(text), source);
        if (seen.status === "duplicate") {
          summary.duplicates++;
          report({ kind: "duplicate", path, smsn: entry.serialNumber, firstPath: index.file(seen.source), reason: "identical entry already read; merged" });
        } else if (seen.status === "conflict") {
          summary.conflicts++;
          conflicts.add(entry.serialNumber);
          report({ kind: "conflict", path, smsn: entry.serialNumber, firstPath: index.file(seen.source), reason: `a different entry for SMSN ${entry.serialNumber} is in ${index.file(seen.source)}` });
        } else {
          // The figures the output would have; the write pass recounts what it writes.
          index.keep(entry.serialNumber, entry.apid, entry.label, source, text);
          summary.devices++;
          summary.perApid[entry.apid] = (summary.perApid[entry.apid] ?? 0) + 1;
          summary.perLabel[entry.label] = (summary.perLabel[entry.label] ?? 0) + 1;
        }
      },
      (path) => {
        summary.files++;
        options.onFile?.(path);
        source = index.addFile(path);
      },
      (problem) => {
        summary.entries += problem.index === undefined ? 0 : 1;
        summary.invalid++;
        report(problem);
      },
      (path) => report({ kind: "empty", path, reason: "no control logs here" }),
    );
  } finally {
    pool.close();
  }
  return { summary, conflicts };
}

/**
 * The write pass: writes the entries the index pass validated and kept (each SMSN's first one,
 * in the order read), leaving out the conflicts. It reads them from the index, not from the
 * logs again, so the output holds exactly what was validated even if a log changes meanwhile.
 * Returns the output's figures.
 */
async function writePass(options: ConsolidateOptions, index: SmsnIndex, indexed: Indexed, out: OutputWriter): Promise<Pick<ConsolidateSummary, "devices" | "perApid" | "perLabel">> {
  const figures = { devices: 0, perApid: {} as Record<string, number>, perLabel: {} as Record<string, number> };
  options.written?.reset();
  for (const entry of index.kept()) {
    if (indexed.conflicts.has(entry.smsn)) continue;
    await out.add(entry.text);
    options.written?.add(entry.smsn, entry.path);
    figures.devices++;
    figures.perApid[entry.apid] = (figures.perApid[entry.apid] ?? 0) + 1;
    figures.perLabel[entry.label] = (figures.perLabel[entry.label] ?? 0) + 1;
  }
  return figures;
}

/** Consolidates control logs; see ConsolidateOptions. Throws only for usage and I/O failures. */
export async function consolidate(options: ConsolidateOptions): Promise<ConsolidateSummary> {
  const now = options.now ?? new Date();
  const dir = options.outDir ?? ".";
  const nameFor: NameFor = (copy) => controlLogFileName(now, copy);
  // Before the logs are read: an output that cannot be written is found now, not after an hour.
  if (options.output !== undefined) checkOutputPath(options.output);
  else checkDirectory(dir, "the output directory");

  const index = new SmsnIndex();
  try {
    const indexed = await indexPass(options, index);
    const { summary } = indexed;
    if (summary.invalid + summary.conflicts > 0 && !options.skipInvalid) return summary;
    if (summary.devices - indexed.conflicts.size <= 0) return summary;
    const write = async (file: OutputSink) => {
      const out = new OutputWriter(file);
      Object.assign(summary, await writePass(options, index, indexed, out));
      if (summary.devices === 0) throw new NothingToWrite();
      await out.end();
    };
    const publishOptions = options.within ? { within: options.within } : {};
    // The write pass starts only once every entry is validated, so `-o -` or a FIFO gets a
    // complete document too (only a log changed in between could still stop it midway).
    const written = options.output !== undefined ? writeOutput(options.output, write, publishOptions) : publishFile(dir, nameFor, write, publishOptions);
    summary.output = await written.catch((e) => {
      if (e instanceof NothingToWrite) return undefined;
      throw e;
    });
    if (summary.output === undefined) delete summary.output;
    return summary;
  } finally {
    index.close();
  }
}
