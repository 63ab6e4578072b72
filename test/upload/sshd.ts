// A real OpenSSH sshd for the SFTP tests: started on a free 127.0.0.1 port with its own
// config, host key, authorized RSA client key (PEM) and an upload and a feedback directory,
// all in a temporary directory. Needs /usr/sbin/sshd (openssh-server, installed by .ci/run).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { tempDir as scratchDir } from "../helpers/temp.ts";
import { freePort } from "../helpers/system.ts";

export const SSHD = "/usr/sbin/sshd";

export interface Sshd {
  port: number;
  dir: string;
  user: string;
  /** RSA client key, PEM ("BEGIN RSA PRIVATE KEY"), authorised on the server. */
  clientKey: string;
  /** A second RSA key the server does not know. */
  strangerKey: string;
  /** The server's host public key line ("ssh-ed25519 AAAA..."). */
  hostPublicKey: string;
  /** "SHA256:..." fingerprint of the host key, as ssh-keygen -l prints it. */
  hostFingerprint: string;
  uploadDir: string;
  feedbackDir: string;
  stop(): Promise<void>;
}

function run(cmd: string[]): string {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

function keygen(path: string, type: "rsa" | "ed25519", passphrase = ""): void {
  const args = ["ssh-keygen", "-q", "-t", type, "-N", passphrase, "-C", "swtool-test", "-f", path];
  if (type === "rsa") args.push("-b", "2048", "-m", "PEM");
  run(args);
}

export async function startSshd(options: { passphrase?: string } = {}): Promise<Sshd> {
  const dir = scratchDir("sshd");
  const hostKey = join(dir, "host_ed25519");
  keygen(hostKey, "ed25519");
  const clientKey = join(dir, "control_log_key");
  keygen(clientKey, "rsa", options.passphrase ?? "");
  const strangerKey = join(dir, "stranger_key");
  keygen(strangerKey, "rsa");
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${clientKey}.pub`));
  const uploadDir = join(dir, "upload");
  const feedbackDir = join(dir, "feedback");
  mkdirSync(uploadDir);
  mkdirSync(feedbackDir);
  // Privilege separation directory, needed even with UsePAM no.
  mkdirSync("/run/sshd", { recursive: true });
  const user = run(["id", "-un"]).trim();
  const hostPublicKey = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  const hostFingerprint = run(["ssh-keygen", "-l", "-E", "sha256", "-f", `${hostKey}.pub`]).split(" ")[1]!;

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const config = join(dir, "sshd_config");
    writeFileSync(
      config,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "PermitRootLogin prohibit-password",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    const proc: Subprocess<"ignore", "ignore", "pipe"> = Bun.spawn([SSHD, "-D", "-e", "-f", config], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const reader = proc.stderr.getReader();
    let log = "";
    const listening = await (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        log += new TextDecoder().decode(value);
        if (log.includes(`Server listening on 127.0.0.1 port ${port}`)) return true;
      }
    })();
    if (!listening) {
      if (attempt < 3 && log.includes("Address already in use")) continue;
      throw new Error(`sshd did not start: ${log}`);
    }
    // Keep draining sshd's log so it never blocks on a full pipe.
    void (async () => {
      for (;;) if ((await reader.read().catch(() => ({ done: true }))).done) return;
    })();
    return {
      port,
      dir,
      user,
      clientKey,
      strangerKey,
      hostPublicKey,
      hostFingerprint,
      uploadDir,
      feedbackDir,
      async stop() {
        proc.kill();
        await proc.exited;
      },
    };
  }
}
