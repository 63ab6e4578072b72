// Provisions one secure-element device by following a profile: read its serial number and
// public key, issue its certificate from the CA, send the certificates and root key, read back
// what the device stored and compare with what was sent before telling it to commit. Success
// only when every object read back equals what was sent and the device reports success.
import type * as pkijs from "pkijs";
import { SwtoolError, UsageError, VerificationError } from "../../lib/errors.ts";
import { equal } from "../../lib/bytes.ts";
import type { CaSigner } from "../ca-signer.ts";
import { issueDeviceCertificate, type IssuedCertificate } from "../ca.ts";
import { certificateDer, certificatePem, nameDer, spkiDer } from "../certificate.ts";
import { formatName } from "../name.ts";
import { findPemBlocks, toPem, type PemBlock } from "../../lib/pem.ts";
import { keyFromSpki, parseDevicePublicKey, publicKeyPem, type DevicePublicKey } from "../pubkey.ts";
import type { ByteChannel } from "../../transport/channel.ts";
import { sleep } from "../../lib/sleep.ts";
import { Conversation, type TranscriptEntry } from "./conversation.ts";
import type { Item, Profile, Step } from "./profile.ts";

export interface ProvisionOptions {
  /** The issuing CA (sent as the signer certificate). */
  ca: pkijs.Certificate;
  signer: CaSigner;
  /** CA certificates above `ca` up to the root, when `ca` is not the root. */
  chain?: pkijs.Certificate[];
  /** Overrides the profile's subject; `{serial}` is replaced. */
  subject?: string;
  days?: number;
  /** Override the profile's pacing (e.g. for a simulator). */
  settleMs?: number;
  lineDelayMs?: number;
  onStep?: (event: StepReport) => void;
}

export interface StepReport {
  step: number;
  do: Step["do"];
  send: string;
  detail: string;
}

export interface ProvisionResult {
  port: string;
  profile: string;
  serial?: string;
  publicKeyPem: string;
  certificate: IssuedCertificate;
  steps: StepReport[];
  transcript: TranscriptEntry[];
}

/** A provisioning that did not succeed; carries the steps done and the transcript. */
export class ProvisionError extends SwtoolError {
  steps: StepReport[] = [];
  transcript: TranscriptEntry[] = [];
}

const LABEL: Record<Item, string> = {
  "signer-certificate": "CERTIFICATE",
  "device-certificate": "CERTIFICATE",
  "root-certificate": "CERTIFICATE",
  "root-public-key": "PUBLIC KEY",
};

/** The self-signed root above `ca` among `chain` (or `ca` itself). */
export function findRoot(ca: pkijs.Certificate, chain: pkijs.Certificate[]): pkijs.Certificate {
  let current = ca;
  for (let i = 0; i <= chain.length; i++) {
    if (equal(nameDer(current.subject), nameDer(current.issuer))) return current;
    const issuer = chain.find((c) => equal(nameDer(c.subject), nameDer(current.issuer)));
    if (!issuer) break;
    current = issuer;
  }
  throw new UsageError(`the root above "${formatName(ca.subject)}" is missing`, { advice: "give the CA certificates up to the self-signed root with --chain" });
}

class Provisioning {
  private readonly talk: Conversation;
  private serial?: string;
  private publicKey?: DevicePublicKey;
  private issued?: IssuedCertificate;
  private readonly sent = new Map<Item, Uint8Array>();
  readonly steps: StepReport[] = [];

  constructor(
    private readonly channel: ByteChannel,
    private readonly profile: Profile,
    private readonly options: ProvisionOptions,
  ) {
    this.talk = new Conversation(channel);
  }

  get transcript(): TranscriptEntry[] {
    return this.talk.transcript;
  }

  private fail(message: string, advice?: string): never {
    throw new ProvisionError(`${this.channel.name}: ${message}`, advice ? { advice } : {});
  }

  private async item(item: Item): Promise<{ pem: string; der: Uint8Array }> {
    const { ca, chain = [] } = this.options;
    if (item === "signer-certificate") return { pem: certificatePem(certificateDer(ca)), der: certificateDer(ca) };
    if (item === "root-certificate") {
      const root = findRoot(ca, chain);
      return { pem: certificatePem(certificateDer(root)), der: certificateDer(root) };
    }
    if (item === "root-public-key") {
      const spki = spkiDer(findRoot(ca, chain));
      try {
        keyFromSpki(spki);
      } catch (e) {
        throw new VerificationError(`profile ${this.profile.name} stores the root public key in the secure element, which holds P-256 keys only: ${(e as Error).message}`, {
          advice: "use a P-256 CA (`swtool x509 ca init --key-type p256`)",
        });
      }
      return { pem: toPem("PUBLIC KEY", spki), der: spki };
    }
    const issued = await this.deviceCertificate();
    return { pem: issued.pem, der: issued.der };
  }

  private async deviceCertificate(): Promise<IssuedCertificate> {
    if (this.issued) return this.issued;
    if (!this.publicKey) this.fail("the device certificate is needed before the device's public key was read");
    const template = this.options.subject ?? this.profile.subject;
    if (template.includes("{serial}") && !this.serial) this.fail("the subject needs the serial number, which was not read");
    this.issued = await issueDeviceCertificate({
      publicKey: this.publicKey,
      ca: this.options.ca,
      signer: this.options.signer,
      chain: this.options.chain,
      subject: template.replaceAll("{serial}", this.serial ?? ""),
      days: this.options.days,
    });
    return this.issued;
  }

  private report(index: number, step: Step, detail: string): void {
    const event = { step: index + 1, do: step.do, send: step.send, detail };
    this.steps.push(event);
    this.options.onStep?.(event);
  }

  async run(): Promise<ProvisionResult> {
    for (const [index, step] of this.profile.steps.entries()) {
      this.report(index, step, await this.runStep(step));
    }
    if (!this.publicKey) this.fail(`profile ${this.profile.name} never reads the device's public key`);
    return {
      port: this.channel.name,
      profile: this.profile.name,
      ...(this.serial ? { serial: this.serial } : {}),
      publicKeyPem: publicKeyPem(this.publicKey),
      certificate: await this.deviceCertificate(),
      steps: this.steps,
      transcript: this.transcript,
    };
  }

  private async request(text: string): Promise<void> {
    this.talk.clear();
    await this.talk.send(text);
  }

  private async runStep(step: Step): Promise<string> {
    switch (step.do) {
      case "handshake":
        for (let attempt = 1; ; attempt++) {
          await this.request(step.send);
          try {
            await this.talk.waitFor((r) => (step.expect.test(r) ? true : undefined), step.timeoutMs, `answer matching /${step.expect.source}/ to ${JSON.stringify(step.send)}`);
            return `device ready (attempt ${attempt})`;
          } catch (e) {
            if (attempt >= step.attempts) throw e;
          }
        }
      case "read-serial": {
        await this.request(step.send);
        this.serial = await this.talk.waitFor((r) => step.match.exec(r)?.[1], step.timeoutMs, "serial number");
        return `serial ${this.serial}`;
      }
      case "read-public-key": {
        await this.request(step.send);
        const pem = await this.talk.waitFor(
          (r) => {
            const failure = step.failure?.exec(r);
            if (failure) this.fail(`the device could not make its key: ${failure[0]}`, "check the secure element's wiring and configuration");
            const end = r.indexOf("-----END PUBLIC KEY-----");
            return r.includes("-----BEGIN PUBLIC KEY-----") && end >= 0 ? r.slice(0, end + 24) : undefined;
          },
          step.timeoutMs,
          "public key PEM",
        );
        this.publicKey = parseDevicePublicKey(pem);
        return "P-256 public key read";
      }
      case "send-pem": {
        const { pem, der } = await this.item(step.item);
        await this.request(step.send);
        await sleep(this.options.settleMs ?? this.profile.settleMs);
        const pace = this.options.lineDelayMs ?? this.profile.lineDelayMs;
        for (const line of pem.trimEnd().split("\n")) {
          await this.talk.send(line + this.profile.lineEnding);
          await sleep(pace);
        }
        this.sent.set(step.item, der);
        return `${step.item} sent (${der.length} bytes)`;
      }
      case "read-back":
        return this.readBackWithRetries(step);
      case "finish": {
        await this.request(step.send);
        const outcome = await this.talk.waitFor(
          (r) => {
            const failure = step.failure?.exec(r);
            if (failure) return `failed: ${failure[0]}`;
            return step.success.test(r) ? "ok" : undefined;
          },
          step.timeoutMs,
          `answer matching /${step.success.source}/ to ${JSON.stringify(step.send)}`,
        );
        if (outcome !== "ok") this.fail(`the device reported a failure while storing: ${outcome.slice(8)}`, "the device is not provisioned; run provisioning again");
        return "device reports success";
      }
    }
  }

  /**
   * A copy damaged in transit (a lost UART event) is sent again, after the profile's resync
   * text has ended any half-received object; a copy the device damages every time stays wrong
   * and fails after the last attempt.
   */
  private async readBackWithRetries(step: Extract<Step, { do: "read-back" }>): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      try {
        const detail = await this.readBack(step);
        return attempt === 1 ? detail : `${detail} (attempt ${attempt})`;
      } catch (error) {
        if (attempt >= step.attempts || !(error instanceof ProvisionError)) throw error;
        this.options.onStep?.({ step: this.steps.length + 1, do: step.do, send: step.send, detail: `${error.message.replace(`${this.channel.name}: `, "")}; sending again` });
        for (const text of this.profile.resync) {
          await this.talk.send(text);
          await sleep(this.options.lineDelayMs ?? this.profile.lineDelayMs);
        }
        for (const send of this.profile.steps) {
          if (send.do === "send-pem" && step.items.includes(send.item)) await this.runStep(send);
        }
      }
    }
  }

  private async readBack(step: Extract<Step, { do: "read-back" }>): Promise<string> {
    await this.request(step.send);
    const wanted = step.items.map((item) => LABEL[item]);
    const blocks = await this.talk.waitFor(
      (r) => {
        const text = r.replace(/\0/g, "");
        if (!wanted.every((label) => countOf(text, `-----END ${label}-----`) >= wanted.filter((l) => l === label).length)) return undefined;
        try {
          return findPemBlocks(text, "read-back");
        } catch (e) {
          return e as Error;
        }
      },
      step.timeoutMs,
      `read-back of ${step.items.join(" and ")}`,
    ).catch((e: Error) => this.fail(`read-back incomplete: ${e.message}`, "the device did not return what it stored; it is not provisioned"));
    if (blocks instanceof Error) this.fail(`read-back: the device returned damaged PEM text (${blocks.message})`, "the device's copy differs from what was sent; it is not provisioned");
    const found = blocks.filter((b: PemBlock) => wanted.includes(b.label));
    for (const [i, item] of step.items.entries()) {
      const expected = this.sent.get(item)!;
      const got = found[i];
      if (!got || got.label !== LABEL[item]) this.fail(`read-back: ${item} is missing from the device's answer`);
      if (!equal(got.der, expected)) {
        this.fail(`read-back: the ${item} stored on the device differs from what was sent (${describeDifference(expected, got.der)})`, "the device is not provisioned; run provisioning again, and check the cable if it repeats");
      }
    }
    return `${step.items.join(" and ")} read back identical`;
  }
}

function countOf(text: string, marker: string): number {
  return text.split(marker).length - 1;
}

function describeDifference(expected: Uint8Array, got: Uint8Array): string {
  const n = Math.min(expected.length, got.length);
  for (let i = 0; i < n; i++) if (expected[i] !== got[i]) return `first difference at byte ${i} of ${expected.length}`;
  return `${got.length} bytes instead of ${expected.length}`;
}

/** Runs the profile against the device on `channel`. */
export async function provisionDevice(channel: ByteChannel, profile: Profile, options: ProvisionOptions): Promise<ProvisionResult> {
  const run = new Provisioning(channel, profile, options);
  try {
    return await run.run();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const failure = error instanceof ProvisionError ? error : new ProvisionError(error instanceof Error ? error.message : String(error), { cause: error, ...(error instanceof SwtoolError && error.advice ? { advice: error.advice } : {}) });
    failure.steps = run.steps;
    failure.transcript = run.transcript;
    throw failure;
  }
}
