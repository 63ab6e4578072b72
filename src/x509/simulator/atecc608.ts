// The ESP32 + ATECC608 provisioning firmware, simulated for rehearsal and tests: the single-
// character UART protocol of the public example (kmwebnet/ECC608-MassProvisioning, src/main.c,
// configure.c, provision.c). Idle, only the first byte of each UART event counts:
//   r  "Ready."            s  the 9-byte chip serial as 18 hex digits, no line end
//   k  new key in slot 0, printed as PEM        c / v / b  take the signer certificate,
//   device certificate, root public key as PEM text until its END line arrives
//   p  print the stored signer and device certificate text, o  the root key text (in 65-byte
//      pieces, the last one NUL-padded)        q  leave the UART loop and write the chip
// After each event the firmware flushes its receive buffer, so a host that sends faster than
// one line per event loses data, as with the real board. `corrupt` makes the stored copy of
// one object differ from what was received, as a bad UART line or a bad write would.
import { p256 } from "@noble/curves/nist.js";
import { randomBytes } from "node:crypto";
import { findPemBlocks, toPem } from "../../lib/pem.ts";
import { keyFromPoint } from "../pubkey.ts";

export type StoredObject = "signer-certificate" | "device-certificate" | "root-public-key";
export const STORED_OBJECTS: readonly StoredObject[] = ["signer-certificate", "device-certificate", "root-public-key"];

export interface Atecc608Options {
  /** 9-byte chip serial in hex (default: 0123 + 6 random bytes + ee, like real chips). */
  serial?: string;
  /** Damage the stored copy of this object (one base64 character changed). */
  corrupt?: StoredObject;
  /** Damage only the first copy received of this object, as a one-off UART glitch would. */
  damageOnce?: StoredObject;
  /** The chip's write of this object fails when provisioning (`q`). */
  failWrite?: StoredObject;
  /** Print the ESP-IDF boot log when started (default true). */
  bootLog?: boolean;
}

/** What the simulated board ends up with, for tests and the operator. */
export interface Atecc608State {
  serial: string;
  publicKeyPem?: string;
  signerCertificate: string;
  deviceCertificate: string;
  rootPublicKey: string;
  provisioned: boolean;
  provisioningLog: string;
}

/** The ESP-IDF UART driver raises a data event at 120 bytes (UART_FULL_THRESH_DEFAULT). */
const UART_EVENT_BYTES = 120;
const CERT_FOOTER = "----END CERTIFICATE----";
const KEY_FOOTER = "----END PUBLIC KEY----";
const ACCEPT: Record<string, { object: StoredObject; footer: string }> = {
  c: { object: "signer-certificate", footer: CERT_FOOTER },
  v: { object: "device-certificate", footer: CERT_FOOTER },
  b: { object: "root-public-key", footer: KEY_FOOTER },
};
/** Buffer sizes of the firmware (signercert[1000], devicecert[1000], rootpubkey[200]). */
const CAPACITY: Record<StoredObject, number> = { "signer-certificate": 1000, "device-certificate": 1000, "root-public-key": 200 };

const latin1 = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));
/** printf through ESP-IDF's console: LF becomes CR LF. */
const printf = (text: string) => latin1(text.replace(/\n/g, "\r\n"));

export class Atecc608Board {
  readonly state: Atecc608State;
  private mode: StoredObject | "idle" | "done" = "idle";
  private readonly stored: Record<StoredObject, string> = { "signer-certificate": "", "device-certificate": "", "root-public-key": "" };
  private privateKey?: Uint8Array;
  private glitched = false;
  private uptimeMs = 312;

  constructor(
    private readonly send: (data: Uint8Array) => void,
    private readonly options: Atecc608Options = {},
  ) {
    const serial = options.serial ?? `0123${randomBytes(6).toString("hex")}ee`;
    if (!/^[0-9a-f]{18}$/.test(serial)) throw new Error(`simulator: serial must be 18 lowercase hex digits, got ${JSON.stringify(serial)}`);
    this.state = { serial, signerCertificate: "", deviceCertificate: "", rootPublicKey: "", provisioned: false, provisioningLog: "" };
  }

  /** The boot log and config zone dump the firmware prints before it listens. */
  boot(): void {
    if (this.options.bootLog === false) return;
    const log = (text: string) => this.send(printf(`\x1b[0;32mI (${(this.uptimeMs += 17)}) ${text}\x1b[0m\n`));
    log("cpu_start: Pro cpu start user code");
    log("MAIN: Config Zone data:");
    const config = new Uint8Array(randomBytes(128));
    let dump = "";
    for (let row = 0; row < 16; row++) dump += Array.from(config.subarray(row * 8, row * 8 + 8), (b) => b.toString(16).padStart(2, "0") + " ").join("") + "\n";
    this.send(printf(dump));
  }

  /** One UART receive event. */
  receive(chunk: Uint8Array): void {
    if (this.mode === "done" || chunk.length === 0) return;
    const event = chunk.subarray(0, UART_EVENT_BYTES); // the rest is flushed
    const text = Buffer.from(event).toString("latin1");
    if (this.mode !== "idle") {
      const object = this.mode;
      const accept = Object.values(ACCEPT).find((a) => a.object === object)!;
      this.stored[object] = (this.stored[object] + text).slice(0, CAPACITY[object] - 1);
      if (text.includes(accept.footer)) this.finishObject(object);
      return;
    }
    const command = text[0]!;
    if (command === "r") this.send(printf("Ready.\n"));
    else if (command === "s") this.send(latin1(this.state.serial));
    else if (command === "k") this.generateKey();
    else if (ACCEPT[command]) {
      this.mode = ACCEPT[command].object;
      this.stored[this.mode] = "";
    } else if (command === "p") {
      this.printStored(this.stored["signer-certificate"]);
      this.printStored(this.stored["device-certificate"]);
    } else if (command === "o") this.printStored(this.stored["root-public-key"]);
    else if (command === "q") {
      this.mode = "done";
      this.provision();
    }
  }

  private finishObject(object: StoredObject): void {
    this.mode = "idle";
    const once = this.options.damageOnce === object && !this.glitched;
    if (this.options.corrupt === object || once) this.stored[object] = damage(this.stored[object]);
    if (once) this.glitched = true;
    this.state.signerCertificate = this.stored["signer-certificate"];
    this.state.deviceCertificate = this.stored["device-certificate"];
    this.state.rootPublicKey = this.stored["root-public-key"];
  }

  private generateKey(): void {
    // genkey on slot 0 makes a new key every time `k` is sent, as the firmware does.
    this.privateKey = p256.utils.randomSecretKey();
    const key = keyFromPoint(p256.getPublicKey(this.privateKey, false));
    // atcab_base64encode breaks lines at 64 characters with CR LF; printf then turns LF into CR LF.
    const body = Buffer.from(key.spki).toString("base64").match(/.{1,64}/g)!.join("\r\n");
    this.state.publicKeyPem = toPem("PUBLIC KEY", key.spki);
    this.send(printf(`-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----\n`));
  }

  /** uart_write_bytes of the buffer in 65-byte pieces; the last piece carries NUL padding. */
  private printStored(text: string): void {
    const pieces = Math.floor(text.length / 65) + 1;
    const out = new Uint8Array(pieces * 65);
    out.set(latin1(text));
    this.send(out);
  }

  /** doprovisioning() and atca_provision(): decode the PEM text, write, read back, compare. */
  private provision(): void {
    let log = "\nprovisioning start\n";
    const decode = (object: StoredObject, label: string, what: string): Uint8Array | undefined => {
      try {
        const block = findPemBlocks(this.stored[object], what).find((b) => b.label === label);
        if (block) return block.der;
      } catch {
        // falls through to the firmware's message
      }
      log += `${what} conversion failed`;
      return undefined;
    };
    const signer = decode("signer-certificate", "CERTIFICATE", "signer cert");
    const device = decode("device-certificate", "CERTIFICATE", "device cert");
    const root = decode("root-public-key", "PUBLIC KEY", "root pubkey");
    const fail = this.options.failWrite;
    log += "Writing Root Public Key\n";
    if (!root || root.length !== 91 || fail === "root-public-key") log += "Failed to write root ca public key\n";
    else {
      log += "device sn provisioning complete.\n";
      log += "Writing Signer Certificate\n";
      if (!signer || fail === "signer-certificate") log += "Failed to write signer certificate: 224\n";
      else {
        log += "Writing Device Certificate\n";
        if (!device || fail === "device-certificate") log += "Failed to write device certificate: 224\n";
        else {
          // The chip keeps what was decoded, so its own read-back compare passes even when the
          // text it decoded was damaged; only the host's compare with what it sent can tell.
          log += "Reading Signer Certificate\nComparing Signer Certificate\n";
          log += "Reading Device Certificate\nComparing Device Certificate\n";
          log += "\nDevice Provisioning Successful!\n";
          this.state.provisioned = true;
        }
      }
    }
    this.state.provisioningLog = log;
    this.send(printf(log));
  }
}

/** Changes one base64 character in the middle of the first PEM body line. */
function damage(text: string): string {
  const begin = text.indexOf("-----\n");
  const at = begin < 0 ? Math.floor(text.length / 2) : begin + 6 + 10;
  if (at >= text.length) return text + "?";
  const ch = text[at]!;
  return text.slice(0, at) + (ch === "A" ? "B" : "A") + text.slice(at + 1);
}
