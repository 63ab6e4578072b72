// Fetching Amazon's feedback CSVs from the feedback SFTP endpoint: every *.csv in the remote
// directory that is not already in the local directory with the same size is downloaded and
// published atomically (never over an existing file); then all local feedback files can be
// read in name order (formats in feedback-csv.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix } from "node:path";
import { publishFile } from "../lib/atomic.ts";
import { SwtoolError } from "../lib/errors.ts";
import type { SshTarget } from "./connection.ts";
import { latestPerDevice, parseFeedbackCsv, type DeviceFeedback, type FeedbackRow } from "./feedback-csv.ts";
import { withSftp, type RetryOptions } from "./retry.ts";
import { list } from "./sftp.ts";

export const FEEDBACK_FILE_RE = /\.csv$/i;

export interface DownloadOptions extends RetryOptions {
  target: SshTarget;
  remoteDir?: string;
  outDir: string;
}

export interface DownloadResult {
  downloaded: string[];
  /** Remote files already here with the same size. */
  alreadyHere: string[];
  attempts: number;
}

function numbered(name: string): (copy: number) => string {
  const dot = name.lastIndexOf(".");
  return (copy) => (copy === 1 ? name : `${name.slice(0, dot)}_${copy}${name.slice(dot)}`);
}

export async function downloadFeedback(options: DownloadOptions): Promise<DownloadResult> {
  const remoteDir = options.remoteDir ?? ".";
  mkdirSync(options.outDir, { recursive: true });
  const { value, attempts } = await withSftp(options.target, options, async ({ sftp }) => {
    const downloaded: string[] = [];
    const alreadyHere: string[] = [];
    const entries = (await list(sftp, remoteDir)).filter((e) => FEEDBACK_FILE_RE.test(e.filename) && e.attrs.isFile()).sort((a, b) => a.filename.localeCompare(b.filename));
    for (const entry of entries) {
      const local = join(options.outDir, entry.filename);
      if (existsSync(local) && statSync(local).size === entry.attrs.size) {
        alreadyHere.push(local);
        continue;
      }
      const remote = posix.join(remoteDir, entry.filename);
      const data = await new Promise<Buffer>((resolve, reject) => sftp.readFile(remote, (err, d) => (err ? reject(err) : resolve(d))));
      if (data.length !== entry.attrs.size) throw new SwtoolError(`${remote}: read ${data.length} bytes, the server listed ${entry.attrs.size}`);
      downloaded.push(await publishFile(options.outDir, numbered(entry.filename), (out) => out.write(data)));
    }
    return { downloaded, alreadyHere };
  });
  return { ...value, attempts };
}

/** The feedback CSVs in a directory, in name order (Amazon names them by date). */
export function feedbackFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => FEEDBACK_FILE_RE.test(n))
    .sort()
    .map((n) => join(dir, n));
}

export interface FeedbackReport {
  files: string[];
  rows: number;
  devices: DeviceFeedback[];
  accepted: number;
  failed: DeviceFeedback[];
}

export function readFeedback(files: string[]): FeedbackReport {
  const rows: FeedbackRow[] = [];
  for (const file of files) rows.push(...parseFeedbackCsv(readFileSync(file, "utf8"), file));
  const devices = [...latestPerDevice(rows).values()];
  const failed = devices.filter((d) => !d.latest.accepted);
  return { files, rows: rows.length, devices, accepted: devices.length - failed.length, failed };
}
