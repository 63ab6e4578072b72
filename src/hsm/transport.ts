// The connector transport: moves raw command bytes to a YubiHSM 2 through yubihsm-connector's
// HTTP API (`GET /connector/status`, `POST /connector/api`), directly (http://, local setup) or
// through a reverse proxy with mutual TLS (https://, networked setup). It knows no protocol.
import { UsageError } from "../lib/errors.ts";
import { HsmConnectionError } from "./errors.ts";
import { readTlsFiles, type TlsFiles } from "./tls-files.ts";

export type { TlsFiles };
import { MAX_MESSAGE } from "./protocol.ts";

export interface ConnectorOptions {
  url: string;
  tls?: TlsFiles;
  /** Allow plain http:// to a host that is not loopback (the PIN-derived session still encrypts). */
  allowInsecureConnector?: boolean;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export interface ConnectorStatus {
  status: string;
  serial: string;
  version: string;
  fields: Record<string, string>;
}

/**
 * Answer size caps. The connector API carries one device message (at most MAX_MESSAGE bytes);
 * a status page is a few lines; a proxy's 403 page fits in the same 4 KiB.
 */
const MAX_ANSWER_BYTES = MAX_MESSAGE;
const MAX_STATUS_BYTES = 4096;

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

export function isLoopback(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

/** Parses `key=value` lines as yubihsm-connector writes them on /connector/status. */
export function parseStatus(text: string): ConnectorStatus | undefined {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf("=");
    if (eq > 0) fields[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  if (fields.status === undefined) return undefined;
  return { status: fields.status, serial: fields.serial ?? "", version: fields.version ?? "", fields };
}

export class Connector {
  readonly url: URL;
  private readonly tls: { ca?: string; cert?: string; key?: string; rejectUnauthorized: true } | undefined;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly apiUrl: string;
  private readonly statusUrl: string;

  constructor(options: ConnectorOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new UsageError(`connector URL ${JSON.stringify(options.url)} is not a URL`, { advice: "give it like http://localhost:12345 or https://server:8081" });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new UsageError(`connector URL ${JSON.stringify(options.url)} must start with http:// or https://`, { advice: "yubihsm-connector speaks HTTP; a TLS proxy in front of it speaks HTTPS" });
    }
    if (url.username || url.password) throw new UsageError("the connector URL must not carry a user name or password");
    if (url.protocol === "http:" && !isLoopback(url.hostname) && !options.allowInsecureConnector) {
      throw new UsageError(`refusing plain http:// to ${url.hostname}, which is not this machine`, {
        advice: "use https:// with --ca-cert, --client-cert and --client-key (the networked setup), or pass --allow-insecure-connector if the network is trusted",
      });
    }
    const tls = options.tls ?? {};
    if (url.protocol === "http:" && (tls.ca || tls.cert || tls.key)) {
      throw new UsageError("TLS files were given for a plain http:// connector URL", { advice: "use an https:// URL for the TLS proxy" });
    }
    if (Boolean(tls.cert) !== Boolean(tls.key)) {
      throw new UsageError("a client certificate needs its key and the other way round", { advice: "give both --client-cert and --client-key" });
    }
    this.url = url;
    this.tls =
      url.protocol === "https:"
        ? {
            ...readTlsFiles(tls),
            // Verification is always on: a proxy that cannot prove itself is not the HSM's.
            rejectUnauthorized: true,
          }
        : undefined;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    const base = url.href.endsWith("/") ? url.href : url.href + "/";
    this.apiUrl = new URL("connector/api", base).href;
    this.statusUrl = new URL("connector/status", base).href;
  }

  private describe(e: unknown, timeoutMs: number): string {
    const err = e as { code?: string; name?: string; message?: string };
    if (err.name === "TimeoutError" || err.name === "AbortError") return `no complete answer within ${timeoutMs / 1000} s`;
    if (err.code === "ConnectionRefused" || err.code === "ECONNREFUSED") return "connection refused (nothing listens there)";
    // Bun's own text names fetch() options; the operator needs to hear what answered instead.
    if (err.code === "Malformed_HTTP_Response") return "what answers there does not speak HTTP (another service on that port?)";
    if (err.code === "ERR_TLS_CERT_ALTNAME_INVALID") return `TLS failed (${err.code}): the server's certificate does not name ${this.url.hostname}; connect with a name or address the certificate carries`;
    if (err.code === "CERT_HAS_EXPIRED") return `TLS failed (${err.code}): the server's certificate has expired; renew it on the signing server, or fix this PC's clock if it is wrong`;
    if (err.code === "CERT_NOT_YET_VALID") return `TLS failed (${err.code}): the server's certificate is not valid yet; check this PC's clock`;
    if (err.code && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO/i.test(err.code)) return `TLS failed (${err.code}): the server's certificate is not signed by the given CA`;
    if (this.url.protocol === "https:" && (err.code === "EPROTO" || err.code === "ECONNRESET")) {
      return `TLS handshake refused (${err.code}): the proxy did not accept the client certificate, or none was given`;
    }
    return err.message ?? String(e);
  }

  /**
   * One HTTP exchange under one deadline that covers the body too, and a size cap: the body is
   * read as a stream and dropped once it passes `limit`, so a hostile or wrong peer (an endless
   * chunked body, a 300 MB page) costs neither memory nor the whole timeout.
   */
  private async request(path: string, init: RequestInit, timeoutMs: number, limit: number): Promise<{ status: number; body: Uint8Array }> {
    let status: number;
    let body: Uint8Array | undefined;
    try {
      const response = await fetch(path, { ...init, signal: AbortSignal.timeout(timeoutMs), ...(this.tls ? { tls: this.tls } : {}) } as RequestInit);
      status = response.status;
      body = await readCapped(response, limit);
    } catch (e) {
      if (await this.speaksPlainHttp(e)) {
        throw new HsmConnectionError(`${this.url.origin} speaks plain HTTP, not TLS: https:// was given for a port without TLS`, {
          advice: `use http://${this.url.host} if that is yubihsm-connector on this machine, or the TLS proxy's port (8081 in the setup \`swtool pki init\` writes)`,
          cause: e,
        });
      }
      const tlsHint = this.url.protocol === "https:" ? "; for the TLS proxy check --ca-cert, --client-cert and --client-key" : "";
      throw new HsmConnectionError(`cannot reach the HSM connector at ${this.url.origin}: ${this.describe(e, timeoutMs)}`, {
        advice: `start yubihsm-connector (or \`swtool hsm simulate\`) and check the URL${tlsHint}`,
        cause: e,
      });
    }
    if (body === undefined) {
      throw new HsmConnectionError(`the HSM connector at ${this.url.origin} sent an answer of more than ${limit} bytes; the connector API carries at most ${limit}`, {
        advice: "check that the URL names yubihsm-connector (or `swtool hsm simulate`), not another service",
      });
    }
    return { status, body };
  }

  /** After a failed TLS handshake: whether the port answers plain HTTP instead (a wrong https://). */
  private async speaksPlainHttp(e: unknown): Promise<boolean> {
    const code = (e as { code?: string }).code;
    if (this.url.protocol !== "https:" || (code !== "EPROTO" && code !== "ECONNRESET")) return false;
    try {
      const plain = new URL(this.statusUrl);
      plain.protocol = "http:";
      const response = await fetch(plain.href, { signal: AbortSignal.timeout(1000) });
      const text = new TextDecoder().decode((await readCapped(response, MAX_STATUS_BYTES)) ?? new Uint8Array(0));
      // nginx answers plain HTTP on its TLS port too ("400 The plain HTTP request was sent to
      // HTTPS port"): that port does speak TLS, the handshake failed for another reason.
      return !/sent to HTTPS port/i.test(text);
    } catch {
      return false;
    }
  }

  /**
   * 403 from the TLS proxy: nginx of the networked setup (`swtool pki init`) answers so when no
   * client certificate, or one its CA did not issue, was presented. Its text says which.
   */
  private refusedByProxy(status: number, text: string): void {
    if (status !== 403 || this.url.protocol !== "https:") return;
    const reason = text.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
    throw new HsmConnectionError(`the TLS proxy at ${this.url.origin} refused the request (HTTP 403${reason ? `: ${reason}` : ""})`, {
      advice: this.tls?.cert
        ? "the client certificate given is not accepted: use --client-cert/--client-key issued by this signing server's CA (`swtool pki client`)"
        : "give --client-cert and --client-key: a client certificate issued by the signing server's CA (`swtool pki client`)",
    });
  }

  /** GET /connector/status: refuses anything that is not a yubihsm-connector with a device. */
  async status(): Promise<ConnectorStatus> {
    const response = await this.request(this.statusUrl, { method: "GET" }, this.connectTimeoutMs, MAX_STATUS_BYTES);
    const text = new TextDecoder().decode(response.body);
    this.refusedByProxy(response.status, text);
    const status = response.status === 200 ? parseStatus(text) : undefined;
    if (!status) {
      throw new HsmConnectionError(`${this.url.origin} answers HTTP ${response.status} but is not a yubihsm-connector (no status on /connector/status)`, {
        advice: "check the host and port of the connector URL",
      });
    }
    if (status.status !== "OK") {
      throw new HsmConnectionError(`the connector at ${this.url.origin} reports status ${status.status}: no usable YubiHSM behind it`, {
        advice: "check that the YubiHSM 2 is plugged in to the connector's machine",
      });
    }
    return status;
  }

  /** POST /connector/api: one message to the device, its answer back. */
  async send(message: Uint8Array): Promise<Uint8Array> {
    const response = await this.request(this.apiUrl, { method: "POST", body: message, headers: { "Content-Type": "application/octet-stream" } }, this.requestTimeoutMs, MAX_ANSWER_BYTES);
    if (response.status !== 200) {
      this.refusedByProxy(response.status, new TextDecoder().decode(response.body));
      throw new HsmConnectionError(`the connector at ${this.url.origin} answered HTTP ${response.status} to a command`, {
        advice: "check the connector's log; the device may have been unplugged",
      });
    }
    return response.body;
  }
}

/** The body, or undefined once it passes `limit` bytes (a declared Content-Length is checked first). */
async function readCapped(response: Response, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(0);
  if (declared > limit) {
    await reader.cancel();
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
