// Several HSMs of one product behind one DakSigner (a factory's signing server). Amazon may
// supply several HSMs for a product, holding the same DAK or different DAKs of it:
// - at start every HSM must answer, hold the product tag and a complete chain that verifies
//   (each checked on its own, as openCertStore does); they must agree on stage and layout, and
//   hold DAKs of one product: the same certificates above the DAK (PRODUCT up to the root);
// - each signature goes to the least loaded HSM (fewest signatures in flight; a tie to the one
//   that made fewer of that curve, so a device's two signatures overlap on two HSMs);
// - an HSM that stops answering is taken out: the signatures it had in flight are made again
//   on another (with that HSM's own chain), so no device fails; it is retried in the
//   background (2 s doubling to 30 s) and rejoins once it answers and its chain verifies
//   again. A rejected PIN (at start of a retry, or when a session is opened mid-shift) takes
//   the HSM out for 30 s before the next try: the device keeps the slot of a failed
//   authentication for its 30 s timeout, and retrying sooner (or per signature) would fill the
//   16 slots every line PC shares;
// - an HSM's own error (a refused command, a missing DAK) is answered by another HSM before
//   it stands;
// - an HSM whose 16 sessions are all taken by other clients (SESSIONS_FULL with none of ours)
//   is passed over for a back-off (0.5 s doubling to 8 s) while the others sign;
// - when no HSM answers, a station's signatures wait (`health` says so: the line pauses) until
//   one rejoins; a one-shot command fails instead.
// Each signature says which HSM (serial) made it, for the ledger.
import { SwtoolError } from "../../lib/errors.ts";
import { HsmConnectionError, HsmPinRejectedError, HsmProtocolError, isDeviceError } from "../../hsm/errors.ts";
import { PIN_SLOT_HOLD_MS } from "../../hsm/pool.ts";
import { sleep } from "../../lib/sleep.ts";
import { CHAIN_ROLES, type Cert, type ChainKind } from "../../sidewalk/chain.ts";
import { toHex } from "../../lib/bytes.ts";
import { CURVE_NAMES, CURVES, type Curve } from "../../sidewalk/curves.ts";
import type { DakSignature, DakSigner, SignerHealth, SignerState, SigningPolicy } from "../../sidewalk/signer.ts";
import type { Stage } from "../../sidewalk/smsn.ts";
import { HsmCertStore, openCertStore, type CertStoreOptions, SessionWaitAborted, type SessionWait } from "./certstore.ts";

export interface HsmEndpoint extends Omit<CertStoreOptions, "productTag" | "sessions" | "sessionWait"> {
  /** For messages (default: the connector URL). */
  name?: string;
}

export type FleetEvent =
  | { type: "hsm-down"; hsm: string; serial?: number; error: string; inService: number }
  | { type: "hsm-up"; hsm: string; serial: number; inService: number }
  | { type: "all-down" };

export interface FleetOptions {
  productTag: string;
  /** Sessions per HSM (1..16). */
  sessions?: number;
  endpoints: HsmEndpoint[];
  onEvent?: (e: FleetEvent) => void;
  /** First background retry of a failed HSM (default 2000 ms; doubles to 30 s). */
  retryMs?: number;
  /**
   * At start, an HSM with all 16 sessions held is waited for (each HSM on its own, in parallel),
   * and the start goes on once every HSM has given a session and passed its checks; a line does
   * not start on some HSMs with others unchecked.
   */
  sessionWait?: SessionWait;
  /** How an HSM is opened (default openCertStore). */
  open?: (options: CertStoreOptions) => Promise<HsmCertStore>;
}

/** The HSM is gone (connection, TLS, timeout), as opposed to an answer from a device that runs. */
export function isHsmUnavailable(e: unknown): boolean {
  if (e instanceof HsmConnectionError || e instanceof HsmProtocolError) return true;
  const code = (e as { code?: unknown }).code;
  const name = (e as { name?: unknown }).name;
  return (
    (typeof code === "string" && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|ConnectionRefused|ConnectionClosed|UND_ERR)/.test(code)) ||
    name === "TimeoutError" ||
    name === "AbortError"
  );
}

const sameCert = (a: Cert, b: Cert) => toHex(a.serial) === toHex(b.serial) && toHex(a.publicKey) === toHex(b.publicKey) && toHex(a.signature) === toHex(b.signature);

/**
 * Why `other` holds another product than `first`, or undefined: DAKs of one product (the same
 * or different ones) sit under one PRODUCT certificate and the same chain above it, per curve.
 */
function otherProduct(first: HsmCertStore, other: HsmCertStore): string | undefined {
  const roles = CHAIN_ROLES[first.kind].slice(1);
  for (const curve of CURVE_NAMES) {
    const a = first.caCerts(curve);
    const b = other.caCerts(curve);
    for (let i = 1; i < a.length; i++) {
      if (!sameCert(a[i]!, b[i]!)) return `its ${CURVES[curve].display} ${roles[i]} certificate (serial ${toHex(b[i]!.serial)}) is not HSM 1's (serial ${toHex(a[i]!.serial)})`;
    }
  }
  return undefined;
}

class Member {
  store: HsmCertStore | undefined;
  inFlight = 0;
  /** Signatures sent to it so far, per curve: ties in load go to the one that had fewer of that curve. */
  readonly sent: Record<Curve, number> = { ed25519: 0, p256r1: 0 };
  down: { since: number; error: string } | undefined;
  /** SESSIONS_FULL with no session of ours: passed over until then. */
  fullUntil = 0;
  fullBackoff = 500;
  constructor(
    readonly endpoint: HsmEndpoint,
    readonly index: number,
  ) {}
  get name(): string {
    return this.endpoint.name ?? this.endpoint.connector;
  }
}

export class HsmFleet implements DakSigner {
  readonly productTag: string;
  readonly stage: Stage;
  readonly kind: ChainKind;
  private readonly members: Member[];
  private readonly wakers = new Set<() => void>();
  private closed = false;
  private readonly listeners = new Set<() => void>();
  private troubleSince: Date | undefined;
  private lastError: string | undefined;
  /** Set by a station: wait for an HSM to come back rather than fail a signature. */
  patient = false;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  private constructor(
    private readonly options: FleetOptions,
    members: Member[],
  ) {
    this.members = members;
    const first = members[0]!.store!;
    this.productTag = first.productTag;
    this.stage = first.stage;
    this.kind = first.kind;
  }

  /** Opens and checks every HSM; any that does not answer or fails its checks stops the start, naming it. */
  static async open(options: FleetOptions): Promise<HsmFleet> {
    if (options.endpoints.length === 0) throw new SwtoolError("no HSM given", { advice: "give --connector URL (repeat it for more HSMs) or --hsm-config FILE" });
    const members = options.endpoints.map((e, i) => new Member(e, i));
    const open = options.open ?? openCertStore;
    const wait = options.sessionWait;
    const results = await Promise.allSettled(
      members.map((m) => open({ ...m.endpoint, productTag: options.productTag, sessions: options.sessions ?? 4, ...(wait ? { sessionWait: wait } : {}) })),
    );
    results.forEach((r, i) => {
      if (r.status === "fulfilled") members[i]!.store = r.value;
    });
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed >= 0) {
      await Promise.allSettled(members.map((m) => m.store?.close()));
      const e = (results[failed] as PromiseRejectedResult).reason as Error;
      if (e instanceof SessionWaitAborted) throw e;
      throw new SwtoolError(`HSM ${failed + 1} of ${members.length} (${members[failed]!.name}): ${e.message}`, {
        advice: (e as SwtoolError).advice ?? "every HSM given must answer and hold the product's complete chain; fix it or leave it out",
        cause: e,
      });
    }
    const first = members[0]!.store!;
    for (const m of members.slice(1)) {
      const s = m.store!;
      if (s.stage !== first.stage || s.kind !== first.kind || s.policy.requireAmazonRoot !== first.policy.requireAmazonRoot || s.policy.rehearsal !== first.policy.rehearsal) {
        await Promise.allSettled(members.map((x) => x.store?.close()));
        const what = (x: HsmCertStore) => `a ${x.stage} ${x.kind} chain ${x.policy.requireAmazonRoot ? "ending at Amazon's root" : "with a test root"}`;
        throw new SwtoolError(`HSM ${m.index + 1} (${m.name}) holds ${what(s)} for ${options.productTag}, HSM 1 ${what(first)}`, {
          advice: "all HSMs of one line must hold the same product's chains",
        });
      }
    }
    for (const m of members.slice(1)) {
      const other = otherProduct(first, m.store!);
      if (other) {
        await Promise.allSettled(members.map((x) => x.store?.close()));
        throw new SwtoolError(`HSM ${m.index + 1} (${m.name}) holds a DAK of another product under the tag ${options.productTag}: ${other}`, {
          advice: "all HSMs of one line must hold DAKs of the same product (one chain above the DAK); leave that HSM out or have it provisioned again",
        });
      }
    }
    const serials = members.map((m) => m.store!.hsmSerial);
    const twice = serials.find((s, i) => serials.indexOf(s) !== i);
    if (twice !== undefined) {
      await Promise.allSettled(members.map((x) => x.store?.close()));
      throw new SwtoolError(`HSM serial ${twice} is given twice (two connector URLs reach the same HSM)`, { advice: "give each HSM once" });
    }
    return new HsmFleet(options, members);
  }

  /** The signing policy every HSM agreed on at start. */
  get policy(): SigningPolicy {
    return this.members[0]!.store!.policy;
  }

  get requireAmazonRoot(): boolean {
    return this.policy.requireAmazonRoot;
  }

  /** The station's view: ok while an HSM can sign; the line pauses otherwise. */
  get health(): SignerHealth {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const fleet = this;
    return {
      get state(): SignerState {
        return fleet.fleetState();
      },
      get since() {
        return fleet.troubleSince;
      },
      get detail() {
        return fleet.lastError;
      },
      onChange: (listener: () => void) => {
        fleet.listeners.add(listener);
        return () => fleet.listeners.delete(listener);
      },
      whenReady: (signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          if (fleet.fleetState() === "ok" || fleet.closed || signal?.aborted) return resolve();
          const done = () => {
            signal?.removeEventListener("abort", done);
            off();
            resolve();
          };
          const off = this.health.onChange(() => fleet.fleetState() === "ok" && done());
          signal?.addEventListener("abort", done, { once: true });
        }),
      get patient() {
        return fleet.patient;
      },
      set patient(v: boolean) {
        fleet.patient = v;
      },
    };
  }

  private fleetState(): SignerState {
    const up = this.up;
    if (up.length === 0) return "unreachable";
    return up.some((m) => m.fullUntil <= Date.now()) ? "ok" : "sessions-full";
  }

  private changed(): void {
    const state = this.fleetState();
    this.troubleSince = state === "ok" ? undefined : (this.troubleSince ?? new Date());
    for (const l of this.listeners) l();
  }

  /** HSMs taking signatures now. */
  get inService(): number {
    return this.members.filter((m) => m.store && !m.down).length;
  }

  /** Every HSM's state, for status lines. */
  status(): { hsm: string; serial?: number; up: boolean; inFlight: number; error?: string }[] {
    return this.members.map((m) => ({
      hsm: m.name,
      ...(m.store ? { serial: m.store.hsmSerial } : {}),
      up: !m.down,
      inFlight: m.inFlight,
      ...(m.down ? { error: m.down.error } : {}),
    }));
  }

  private get up(): Member[] {
    return this.members.filter((m) => m.store && !m.down);
  }

  /** The first HSM in service's CA certificates (they may differ per HSM: signWithChain says which were used). */
  caCerts(curve: Curve): readonly Cert[] {
    return (this.up[0] ?? this.members[0]!).store!.caCerts(curve);
  }

  /** Every HSM's chain ends at Amazon's production root. */
  amazonRoot(curve: Curve): boolean {
    return this.members.every((m) => m.store!.amazonRoot(curve));
  }

  async sign(curve: Curve, message: Uint8Array): Promise<Uint8Array> {
    return (await this.signWithChain(curve, message)).signature;
  }

  /**
   * Least loaded first: fewest signatures in flight; ties go to the one sent fewer of this
   * curve so far (so both DAKs of each curve sign, and the two signatures of a device can overlap).
   */
  private pick(curve: Curve, skip: ReadonlySet<Member> = new Set()): Member | undefined {
    let best: Member | undefined;
    const now = Date.now();
    for (const m of this.up.filter((x) => x.fullUntil <= now && !skip.has(x))) if (!best || m.inFlight < best.inFlight || (m.inFlight === best.inFlight && m.sent[curve] < best.sent[curve])) best = m;
    return best;
  }

  private waitForService(): Promise<void> {
    return new Promise((resolve) => this.wakers.add(resolve));
  }

  async signWithChain(curve: Curve, message: Uint8Array): Promise<DakSignature> {
    // HSMs that answered this signature with an error of their own (not an outage): another
    // one is asked before the error stands, so one HSM's fault does not fail a device.
    const refusedBy = new Set<Member>();
    let refused: unknown;
    for (;;) {
      if (this.closed) throw new SwtoolError("the HSMs were closed");
      const m = this.pick(curve, refusedBy);
      if (!m) {
        const full = this.up.filter((x) => !refusedBy.has(x));
        if (full.length === 0 && refusedBy.size > 0 && this.up.length > 0) throw refused!;
        if (full.length > 0) {
          // Every HSM in service is full of other clients' sessions: wait for the first back-off to end.
          await sleep(Math.max(10, Math.min(...full.map((x) => x.fullUntil)) - Date.now()));
          continue;
        }
        if (!this.patient) throw new SwtoolError(`no HSM answers: ${this.lastError ?? "all are out of service"}`, { advice: "check the HSMs and the network to the signing server, then run this again" });
        await this.waitForService();
        continue;
      }
      const store = m.store!;
      m.inFlight++;
      m.sent[curve]++;
      try {
        const signature = await store.sign(curve, message);
        if (m.fullUntil !== 0) {
          m.fullUntil = 0;
          m.fullBackoff = 500;
          this.changed();
        }
        return { signature, caCerts: store.caCerts(curve), hsmSerial: String(store.hsmSerial) };
      } catch (e) {
        if (isDeviceError(e, "SESSIONS_FULL") && !this.closed) {
          // Another client holds all 16: this HSM is passed over for a while, the others sign.
          m.fullUntil = Date.now() + m.fullBackoff;
          m.fullBackoff = Math.min(m.fullBackoff * 2, 8000);
          this.lastError = (e as Error).message;
          this.changed();
          continue;
        }
        if (this.closed) throw e;
        if (e instanceof HsmPinRejectedError) {
          // Out until the slot its failed authentication holds has timed out; another HSM signs.
          this.takeOut(m, store, e, PIN_SLOT_HOLD_MS);
          continue;
        }
        if (!isHsmUnavailable(e)) {
          refusedBy.add(m);
          refused = e;
          if (this.up.some((x) => !refusedBy.has(x))) {
            this.lastError = `${m.name}: ${(e as Error).message}`;
            continue;
          }
          throw e;
        }
        // Made again on another HSM (or on this one once it rejoins).
        this.takeOut(m, store, e as Error);
      } finally {
        m.inFlight--;
      }
    }
  }

  private takeOut(m: Member, store: HsmCertStore, e: Error, retryMs = this.options.retryMs ?? 2000): void {
    if (m.down || m.store !== store) return;
    m.down = { since: Date.now(), error: e.message };
    this.lastError = `${m.name}: ${e.message}`;
    void store.close().catch(() => {});
    this.changed();
    this.options.onEvent?.({ type: "hsm-down", hsm: m.name, serial: store.hsmSerial, error: e.message, inService: this.inService });
    if (this.inService === 0) this.options.onEvent?.({ type: "all-down" });
    this.retryLater(m, retryMs);
  }

  private retryLater(m: Member, delay: number): void {
    if (this.closed) return;
    const timer = setTimeout(async () => {
      this.timers.delete(timer);
      if (this.closed) return;
      const open = this.options.open ?? openCertStore;
      try {
        const store = await open({ ...m.endpoint, productTag: this.options.productTag, sessions: this.options.sessions ?? 4 });
        // It must be what it was: same stage, layout, policy and product (a swapped-in HSM with a test chain or another product's DAK stays out).
        if (this.closed || store.stage !== this.stage || store.kind !== this.kind || store.policy.requireAmazonRoot !== this.policy.requireAmazonRoot || otherProduct(m.store!, store) || !CURVE_NAMES.every((c) => store.amazonRoot(c) === m.store!.amazonRoot(c))) {
          await store.close();
          if (!this.closed) this.retryLater(m, 30_000);
          return;
        }
        m.store = store;
        m.down = undefined;
        m.fullUntil = 0;
        this.changed();
        this.options.onEvent?.({ type: "hsm-up", hsm: m.name, serial: store.hsmSerial, inService: this.inService });
        for (const wake of [...this.wakers]) {
          this.wakers.delete(wake);
          wake();
        }
      } catch (e) {
        m.down = { since: m.down?.since ?? Date.now(), error: (e as Error).message };
        const next = e instanceof HsmPinRejectedError ? Math.max(PIN_SLOT_HOLD_MS, delay) : Math.min(delay * 2, 30_000);
        this.retryLater(m, next);
      }
    }, delay);
    timer.unref?.();
    this.timers.add(timer);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of [...this.wakers]) wake();
    this.wakers.clear();
    await Promise.allSettled(this.members.map((m) => (m.down ? undefined : m.store?.close())));
  }
}
