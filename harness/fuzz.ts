// The parser fuzzer: random and mutated inputs thrown at every parser, counting any exception
// that is not one of swtool's own errors (an uncaught TypeError/RangeError would reach an
// operator as a crash). bench/fuzz.ts runs 100,000 inputs; test/sidewalk/fuzz.test.ts a few
// thousand, in-process.
import { SwtoolError } from "../src/lib/errors.ts";
import { parseControlLog } from "../src/controllog/format.ts";
import { readSigningOutput } from "../src/formats/signing-output.ts";
import { decodeChain, decodeChainAnyCurve, decodeChainBase64, decodeCsr, decodeCsrBase64, fromBase64, fromHex, parseCurve, parseStage, computeSmsn, verifyChain, verifyCsr } from "../src/sidewalk/index.ts";
import { seed } from "./vectors.ts";

const corpus: Uint8Array[] = [
  Buffer.from(seed.chain.ed25519.base64, "base64"),
  Buffer.from(seed.chain.p256r1.base64, "base64"),
  Buffer.from(seed.csr.ed25519.base64, "base64"),
  Buffer.from(seed.csr.p256r1.base64, "base64"),
];
const textCorpus = [
  seed.chain.ed25519.base64, seed.csr.p256r1.base64, JSON.stringify(seed.signing_tool_output_example),
  JSON.stringify({ controlLogs: [{ version: "4-0-1", device: { serialNumber: seed.smsn.smsn_hex, productIdentifier: { advertisedProductId: "pd25" }, sidewalkData: { sidewalkED25519CertificateChain: seed.chain.ed25519.base64, sidewalkP256R1CertificateChain: seed.chain.p256r1.base64, label: "production" } } }] }),
];

let state = 0x12345678;
const rand = (n: number) => {
  state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
  return (state >>> 0) % n;
};

function mutate(data: Uint8Array): Uint8Array {
  const out = Array.from(data);
  const ops = 1 + rand(4);
  for (let i = 0; i < ops; i++) {
    const op = rand(5);
    const at = rand(out.length + 1);
    if (op === 0 && out.length) out[at % out.length] = rand(256);
    else if (op === 1) out.splice(at, rand(8));
    else if (op === 2) out.splice(at, 0, ...Array.from({ length: rand(8) }, () => rand(256)));
    else if (op === 3) out.length = rand(out.length + 1);
    else if (op === 4 && out.length) out[at % out.length] = [0xb0, 0xff, 0x00, 0x7f][rand(4)]!;
  }
  return Uint8Array.from(out);
}

function randomBytes(): Uint8Array {
  return Uint8Array.from({ length: rand(900) }, () => rand(256));
}

function mutateText(text: string): string {
  const chars = [...text];
  for (let i = 0, n = 1 + rand(3); i < n; i++) {
    const at = rand(chars.length + 1);
    const op = rand(3);
    if (op === 0) chars.splice(at, 1 + rand(4));
    else if (op === 1) chars.splice(at, 0, String.fromCharCode(rand(128)));
    else chars.splice(at, 0, ['"', "{", "}", "[", "]", ",", "null", "=", "\u2014"][rand(9)]!);
  }
  return chars.join("");
}

const parsers: [string, (b: Uint8Array, t: string) => unknown][] = [
  ["decodeChain(ed25519)", (b) => verifyChain(decodeChain(b, "ed25519"))],
  ["decodeChain(p256r1)", (b) => verifyChain(decodeChain(b, "p256r1"))],
  ["decodeChainAnyCurve", (b) => decodeChainAnyCurve(b)],
  ["decodeCsr", (b) => verifyCsr(decodeCsr(b))],
  ["fromBase64", (_b, t) => fromBase64(t)],
  ["fromHex", (_b, t) => fromHex(t)],
  ["decodeChainBase64", (_b, t) => decodeChainBase64(t)],
  ["decodeCsrBase64", (_b, t) => decodeCsrBase64(t)],
  ["parseControlLog", (_b, t) => parseControlLog(t)],
  ["readSigningOutput", (_b, t) => { try { return readSigningOutput(JSON.parse(t)); } catch (e) { if (e instanceof SyntaxError) return; throw e; } }],
  ["parseCurve/parseStage", (_b, t) => { try { parseCurve(t); } catch (e) { if (!(e instanceof SwtoolError)) throw e; } return parseStage(t); }],
  ["computeSmsn", (_b, t) => computeSmsn({ deviceType: t.slice(0, 10), dsn: t.slice(10, 30), apid: t.slice(30, 34) })],
];

export interface FuzzResult {
  iterations: number;
  parsers: number;
  seconds: number;
  /** Inputs refused with a swtool error, as they should be. */
  refused: number;
  /** Parser name -> the first uncaught exception it threw. */
  crashes: Map<string, string>;
}

export function fuzzParsers(iterations: number): FuzzResult {
  state = 0x12345678;
  const started = performance.now();
  const crashes = new Map<string, string>();
  let refused = 0;
  for (let i = 0; i < iterations; i++) {
    const bin = rand(4) === 0 ? randomBytes() : mutate(corpus[rand(corpus.length)]!);
    const text = rand(4) === 0 ? Buffer.from(randomBytes()).toString("latin1") : mutateText(textCorpus[rand(textCorpus.length)]!);
    const [name, parse] = parsers[i % parsers.length]!;
    try {
      parse(bin, text);
    } catch (e) {
      if (e instanceof SwtoolError) refused++;
      else if (!crashes.has(name)) crashes.set(name, `${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }
  return { iterations, parsers: parsers.length, seconds: (performance.now() - started) / 1000, refused, crashes };
}
