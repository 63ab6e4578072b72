// The line protocol parser: the seed transcript replayed byte for byte (split at every
// possible read boundary), and each kind of line a real firmware prints.
import { describe, expect, test } from "bun:test";
import { ReadlineParser } from "@serialport/parser-readline";
import { classifyLine, echoedCommand, formatCommand, quoteArgument, type CertToken } from "../../src/device/protocol/lines.ts";
import { describeSidError, SID_ERRORS } from "../../src/device/protocol/sid-errors.ts";
import { deviceSession, seed } from "../helpers/vectors.ts";

/** The bytes a device puts on the wire for the transcript: prompt, echo, answers, CR LF. */
function transcriptBytes(): Buffer {
  const lines = deviceSession.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(""), "latin1");
}

function replay(bytes: Buffer, chunk: number): string[] {
  const parser = new ReadlineParser({ delimiter: "\n", encoding: "latin1" });
  const out: string[] = [];
  parser.on("data", (l: string) => out.push(l));
  for (let i = 0; i < bytes.length; i += chunk) parser.write(bytes.subarray(i, i + chunk));
  return out;
}

interface Exchange {
  command: string;
  tokens: CertToken[];
}

function exchanges(lines: string[]): Exchange[] {
  const result: Exchange[] = [];
  for (const raw of lines) {
    const line = classifyLine(raw);
    if (line.kind === "text") {
      const echo = echoedCommand(line.text);
      if (echo) result.push({ command: echo, tokens: [] });
    } else if (line.kind === "cert") result.at(-1)!.tokens.push(...line.tokens);
    else throw new Error(`unexpected ${line.kind}: ${raw}`);
  }
  return result;
}

describe("seed transcript", () => {
  const bytes = transcriptBytes();
  const reference = exchanges(replay(bytes, bytes.length));
  const pieces = (i: number) => reference[i]!.tokens.filter((t) => t.kind === "piece").map((t) => (t as { data: string }).data).join("");

  test("every command is answered OK and carries the seed's values", () => {
    expect(reference.length).toBe(deviceSession.split("\n").filter((l) => l.startsWith("--> ")).length);
    for (const e of reference) expect(e.tokens.at(-1)).toEqual({ kind: "ok" });
    expect(reference[0]).toEqual({ command: "cert init", tokens: [{ kind: "mtu", mtu: 32 }, { kind: "ok" }] });
    expect(reference[1]!.command).toBe('cert smsn "A17XHX23H06INH" "SN1234567" "pd25"');
    expect(Buffer.from(pieces(1), "base64").toString("hex")).toBe(seed.smsn.smsn_hex);
    expect(pieces(2)).toBe(seed.csr.ed25519.base64);
    expect(pieces(3)).toBe(seed.csr.p256r1.base64);
  });

  test("the chain and app key writes put back the seed's chains, 32 characters at most per piece", () => {
    const writes = (from: number, prefix: string) => {
      const out: string[] = [];
      for (let i = from; reference[i]!.command.startsWith(prefix); i++) out.push(JSON.parse(reference[i]!.command.slice(prefix.length)));
      return out;
    };
    const start = (curve: string) => reference.findIndex((e) => e.command === `cert chain start "${curve}"`);
    const ed = writes(start("ed25519") + 1, "cert chain write ");
    const p256 = writes(start("p256r1") + 1, "cert chain write ");
    expect(ed.join("")).toBe(seed.chain.ed25519.base64);
    expect(p256.join("")).toBe(seed.chain.p256r1.base64);
    for (const piece of [...ed, ...p256]) expect(piece.length).toBeLessThanOrEqual(32);
    const appKey = writes(reference.findIndex((e) => e.command === "cert app_key start") + 1, "cert app_key write ");
    expect(appKey.join("")).toBe(seed.app_server_public_key_base64);
    expect(reference.at(-2)!.command).toBe("cert store");
    expect(reference.at(-1)!.command).toBe("cert deinit");
  });

  test("split at every read size from 1 to 97 bytes, the parser sees the same lines", () => {
    const whole = replay(bytes, bytes.length);
    for (let chunk = 1; chunk <= 97; chunk++) expect(replay(bytes, chunk)).toEqual(whole);
  });

  test("with LF only instead of CR LF, the same exchanges", () => {
    const lf = Buffer.from(bytes.toString("latin1").replace(/\r\n/g, "\n"), "latin1");
    expect(exchanges(replay(lf, 7))).toEqual(reference);
  });
});

describe("classifyLine", () => {
  test("log prefixes, timestamps, colour codes and prompts around CERT tokens", () => {
    expect(classifyLine("[00595275] <info> app: {CERT BASE64_MTU=32}\r")).toEqual({ kind: "cert", tokens: [{ kind: "mtu", mtu: 32 }], text: "[00595275] <info> app: {CERT BASE64_MTU=32}" });
    expect(classifyLine("\x1b[1;32m{CERT OK}\x1b[0m\r").kind).toBe("cert");
    expect(classifyLine("[00:00:01.234,567] <inf> app: {CERT ERROR -11}")).toMatchObject({ tokens: [{ kind: "error", code: -11 }] });
    expect(classifyLine("uart:~$ \r\x1b[K[00595292] <info> app: {CERT <AHDmbIb2/zk=>}\r")).toMatchObject({ tokens: [{ kind: "piece", data: "AHDmbIb2/zk=" }] });
  });

  test("two tokens on one line (a lost line end) are both read", () => {
    expect(classifyLine("{CERT <QUJD>}{CERT OK}")).toMatchObject({ tokens: [{ kind: "piece", data: "QUJD" }, { kind: "ok" }] });
  });

  test("damaged CERT tokens are garbled, not ignored", () => {
    for (const bad of ["{CERT <ab$c>}", "{CERT OX}", "{CERT ERROR x}", "{CERT <abc", "[1] <info> app: {CERTOK}", "{CEXT OK} CERT"]) {
      expect(classifyLine(bad).kind).toBe("garbled");
    }
  });

  test("shell refusals are recognised", () => {
    expect(classifyLine("cert smsn: wrong parameter count").kind).toBe("shell-error");
    expect(classifyLine("\x1b[1;31mcerx: command not found\x1b[0m").kind).toBe("shell-error");
  });

  test("unrelated log lines are plain text", () => {
    expect(classifyLine("[00595300] <info> sid_pal: radio idle")).toEqual({ kind: "text", text: "[00595300] <info> sid_pal: radio idle" });
  });

  test("echo detection with and without prompt", () => {
    expect(echoedCommand("--> cert init")).toBe("cert init");
    expect(echoedCommand("uart:~$ cert chain commit  ")).toBe("cert chain commit");
    expect(echoedCommand("cert store")).toBe("cert store");
    expect(echoedCommand("[00595300] <info> app: cert module ready")).toBeUndefined();
    expect(echoedCommand("*** Booting ***")).toBeUndefined();
  });
});

describe("commands and error codes", () => {
  test("every argument is quoted, quotes and backslashes escaped", () => {
    expect(formatCommand("cert smsn", ["A17XHX23H06INH", "SN1234567", "pd25"])).toBe('cert smsn "A17XHX23H06INH" "SN1234567" "pd25"');
    expect(formatCommand("cert chain commit")).toBe("cert chain commit");
    expect(quoteArgument('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  test("codes are shown by number and name, unknown codes kept", () => {
    expect(describeSidError(-11)).toBe("-11 INVALID_ARGS");
    expect(describeSidError(SID_ERRORS.UNINITIALIZED)).toBe("-25 UNINITIALIZED");
    expect(describeSidError(-40)).toBe("-40 INVALID_STATE");
    expect(describeSidError(-99)).toBe("-99 UNKNOWN");
  });
});
