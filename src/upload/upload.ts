// Uploading a consolidated control log to Amazon's SFTP endpoint (issue 6) so the endpoint never
// sees a partial file: write `.<name>.part`, check the remote size, then rename to the final
// name (a plain SFTP rename, which never replaces a file). A dropped connection is retried from
// the start; a final file already there with the same size (an attempt whose rename succeeded
// but whose reply was lost) counts as uploaded, one with another size is refused.
import { statSync } from "node:fs";
import { basename, posix } from "node:path";
import { SwtoolError, UsageError } from "../lib/errors.ts";
import { ConnectionLostError, type SshTarget } from "./connection.ts";
import { withSftp, type RetryOptions } from "./retry.ts";
import { put, remoteStat, rename } from "./sftp.ts";

export interface UploadOptions extends RetryOptions {
  file: string;
  target: SshTarget;
  /** Remote directory (default: the login directory). */
  remoteDir?: string;
}

export interface UploadResult {
  remotePath: string;
  bytes: number;
  attempts: number;
  /** The file was already on the server (from an earlier attempt). */
  alreadyPresent: boolean;
}

export class RemoteFileExistsError extends SwtoolError {}

export function partName(remotePath: string): string {
  return posix.join(posix.dirname(remotePath), `.${posix.basename(remotePath)}.part`);
}

export async function uploadFile(options: UploadOptions): Promise<UploadResult> {
  let bytes: number;
  try {
    const st = statSync(options.file);
    if (!st.isFile()) throw new UsageError(`${options.file} is not a file`);
    bytes = st.size;
  } catch (e) {
    if (e instanceof SwtoolError) throw e;
    throw new UsageError(`cannot read ${options.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { advice: "give the consolidated control log to upload" });
  }
  const remotePath = posix.join(options.remoteDir ?? ".", basename(options.file));
  const part = partName(remotePath);
  const { value, attempts } = await withSftp(options.target, options, async ({ sftp }) => {
    const existing = await remoteStat(sftp, remotePath);
    if (existing) {
      if (existing.size === bytes) return { alreadyPresent: true };
      throw new RemoteFileExistsError(`${remotePath} already exists on the server with ${existing.size} bytes (the local file has ${bytes})`, {
        advice: "a different file of that name was uploaded before; consolidate again (new name) and upload that",
      });
    }
    await put(sftp, options.file, part);
    const uploaded = await remoteStat(sftp, part);
    if (uploaded?.size !== bytes) {
      throw new ConnectionLostError(`the server has ${uploaded?.size ?? "no"} bytes of ${part}, expected ${bytes}`);
    }
    await rename(sftp, part, remotePath).catch(async (e) => {
      const now = await remoteStat(sftp, remotePath);
      if (now?.size !== bytes) throw new SwtoolError(`cannot rename ${part} to ${remotePath} on the server: ${(e as Error).message}`, { cause: e });
    });
    return { alreadyPresent: false };
  });
  return { remotePath, bytes, attempts, alreadyPresent: value.alreadyPresent };
}
