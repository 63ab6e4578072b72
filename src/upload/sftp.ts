// Promise forms of the few SFTP operations swtool uses (ssh2's SFTPWrapper is callback-based).
import type { FileEntryWithStats, SFTPWrapper, Stats } from "ssh2";

/** SFTP status code for a missing file (draft-ietf-secsh-filexfer-02, SSH_FX_NO_SUCH_FILE). */
const NO_SUCH_FILE = 2;

const call = <T>(fn: (cb: (err: Error | null | undefined, value: T) => void) => void) =>
  new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

export const remoteStat = (sftp: SFTPWrapper, path: string): Promise<Stats | undefined> =>
  new Promise((resolve, reject) =>
    sftp.stat(path, (err, stats) => {
      if (!err) resolve(stats);
      else if ((err as Error & { code?: number }).code === NO_SUCH_FILE) resolve(undefined);
      else reject(err);
    }),
  );

export const put = (sftp: SFTPWrapper, local: string, remote: string) => call<void>((cb) => sftp.fastPut(local, remote, (err) => cb(err, undefined)));
export const get = (sftp: SFTPWrapper, remote: string, local: string) => call<void>((cb) => sftp.fastGet(remote, local, (err) => cb(err, undefined)));
/** Plain SFTP rename: fails when the target exists (OpenSSH links then unlinks), never replaces. */
export const rename = (sftp: SFTPWrapper, from: string, to: string) => call<void>((cb) => sftp.rename(from, to, (err) => cb(err, undefined)));
export const remove = (sftp: SFTPWrapper, path: string) => call<void>((cb) => sftp.unlink(path, (err) => cb(err, undefined)));
export const list = (sftp: SFTPWrapper, dir: string) => call<FileEntryWithStats[]>((cb) => sftp.readdir(dir, cb));
