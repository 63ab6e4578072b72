// One SFTP session over SSH (ssh2, pure JavaScript, so it runs inside the compiled binary):
// RSA (or any OpenSSH-supported) private key, host key checked by host-key.ts before any
// credential is sent, and errors turned into operator messages that say whether a retry can
// help (a dropped or refused connection) or not (wrong key, refused host key).
import { Client, type ConnectConfig, type ServerHostKeyAlgorithm, type SFTPWrapper } from "ssh2";
import { SwtoolError } from "../lib/errors.ts";
import { hostKeyChecker, HostKeyError, hostName, type HostKeyPolicy } from "./host-key.ts";

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  /** Private key text (PEM or OpenSSH format). */
  privateKey: string;
  passphrase?: string;
  hostKey: HostKeyPolicy;
  /** Handshake timeout in milliseconds (default 20 s). */
  timeoutMs?: number;
}

/** A failure another attempt may get past: the connection dropped, timed out or was refused. */
export class ConnectionLostError extends SwtoolError {}

export class AuthenticationError extends SwtoolError {}

/** ssh2's default order; the types known_hosts has for the host go first, as OpenSSH does. */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"];

export interface SftpSession {
  sftp: SFTPWrapper;
  /** True once the connection has gone (an operation's error then means "retry"). */
  readonly lost: boolean;
  /**
   * Rejects with a ConnectionLostError when the connection goes: ssh2 does not always fail
   * the SFTP requests in flight, so a job races against it.
   */
  readonly gone: Promise<never>;
  close(): void;
}

function keyError(e: Error, target: SshTarget): SwtoolError {
  const msg = e.message;
  if (/no passphrase given|bad decrypt|Bad passphrase|Integrity check failed/i.test(msg)) {
    return new AuthenticationError(`cannot decrypt the SSH private key: ${target.passphrase ? "wrong passphrase" : "it is encrypted and no passphrase was given"}`, {
      advice: "give the passphrase in the variable named by --passphrase-env, or run on a terminal to be asked",
    });
  }
  return new AuthenticationError(`cannot read the SSH private key: ${msg}`, { advice: "give the RSA private key (PEM) the Sidewalk console gave for the control log endpoint" });
}

/** Opens an SSH connection and its SFTP channel. */
export function openSftp(target: SshTarget): Promise<SftpSession> {
  const where = `${target.user}@${hostName(target.host, target.port)}`;
  const checker = hostKeyChecker(target.hostKey, target.host, target.port);
  const preferred = checker.preferredTypes();
  const algorithms = [...HOST_KEY_ALGORITHMS.filter((a) => preferred.includes(a)), ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
  let hostKeyFailure: HostKeyError | undefined;
  const config: ConnectConfig = {
    host: target.host,
    port: target.port,
    username: target.user,
    privateKey: target.privateKey,
    readyTimeout: target.timeoutMs ?? 20_000,
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    algorithms: { serverHostKey: algorithms },
    hostVerifier: (key: Buffer) => {
      try {
        checker.check(key);
        return true;
      } catch (e) {
        hostKeyFailure = e as HostKeyError;
        return false;
      }
    },
  };
  if (target.passphrase !== undefined) config.passphrase = target.passphrase;

  return new Promise((resolve, reject) => {
    const client = new Client();
    let settled = false;
    let lost = false;
    let markGone: (e: ConnectionLostError) => void = () => undefined;
    const gone = new Promise<never>((_, reject) => (markGone = reject));
    gone.catch(() => undefined);
    const fail = (error: SwtoolError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    client.on("error", (e: Error & { level?: string; code?: string }) => {
      if (settled) return markGone(new ConnectionLostError(`the SFTP connection to ${where} failed: ${e.code ?? e.message}`, { cause: e }));
      if (hostKeyFailure) return fail(hostKeyFailure);
      if (e.level === "client-authentication") {
        return fail(
          new AuthenticationError(`${where} refused the SSH key`, {
            advice: "use the private key whose public key was registered for this endpoint in the Sidewalk console, and check the user name",
          }),
        );
      }
      fail(new ConnectionLostError(`SFTP connection to ${where} failed: ${e.code ?? e.message}`, { cause: e, advice: "check the host, port and network; the upload is retried" }));
    });
    client.on("close", () => {
      lost = true;
      markGone(new ConnectionLostError(`the SFTP connection to ${where} dropped`));
      fail(new ConnectionLostError(`SFTP connection to ${where} closed before it was ready`));
    });
    client.on("ready", () => {
      client.sftp((err, sftp) => {
        if (err) return fail(new ConnectionLostError(`${where} did not open an SFTP session: ${err.message}`, { advice: "the account must allow the sftp subsystem" }));
        settled = true;
        resolve({
          sftp,
          get lost() {
            return lost;
          },
          gone,
          close: () => client.end(),
        });
      });
    });
    try {
      client.connect(config);
    } catch (e) {
      fail(keyError(e as Error, target));
    }
  });
}
