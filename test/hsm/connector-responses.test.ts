// The connector transport against hostile or wrong peers: a small HTTP server inside the test
// that hangs, sends an endless chunked body, a 300 MB body (streamed, never allocated), or
// garbage. Each ends in one line naming the connector, quickly and without reading it all.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { Connector } from "../../src/hsm/transport.ts";
import { swtool } from "../helpers/cli.ts";

type Behaviour = (socket: Socket, path: string) => void;

const STATUS_OK = "status=OK\nserial=*\nversion=3.0.5\n";
const headers = (extra: string) => `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n${extra}\r\n`;
/** Bytes each behaviour managed to send before the client stopped reading. */
const sent: Record<string, number> = {};

/** Writes `chunk` again and again (respecting backpressure) until the peer goes away or `total` is reached. */
function pour(socket: Socket, name: string, chunk: Buffer, total = Infinity, frame = (b: Buffer) => b): void {
  sent[name] = 0;
  const more = () => {
    while (sent[name]! < total && !socket.destroyed) {
      sent[name]! += chunk.length;
      if (!socket.write(frame(chunk))) return void socket.once("drain", more);
    }
  };
  socket.on("error", () => undefined);
  more();
}

const chunked = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);

const BEHAVIOURS: Record<string, Behaviour> = {
  hang: () => undefined,
  "hang-in-body": (socket) => socket.write(headers("Content-Length: 100\r\n") + "status=OK\n"),
  endless: (socket, path) => {
    socket.write(headers("Transfer-Encoding: chunked\r\n"));
    pour(socket, `endless${path}`, Buffer.alloc(1024, 0x41), Infinity, chunked);
  },
  huge: (socket, path) => {
    socket.write(headers(`Content-Length: ${300 * 1024 * 1024}\r\n`));
    pour(socket, `huge${path}`, Buffer.alloc(64 * 1024, 0x42), 300 * 1024 * 1024);
  },
  "huge-undeclared": (socket, path) => {
    socket.write("HTTP/1.0 200 OK\r\n\r\n");
    pour(socket, `huge-undeclared${path}`, Buffer.alloc(64 * 1024, 0x43), 300 * 1024 * 1024);
  },
  "garbage-status": (socket) => socket.end(headers("Content-Length: 64\r\n") + "\u0000\u00ff".repeat(32)),
  "not-http": (socket) => socket.end(Buffer.from("\u0016\u0003\u0001 this is not HTTP at all \u0000\u0001\u0002\r\n\r\n")),
  "garbage-api": (socket, path) => {
    const body = path.endsWith("/status") ? Buffer.from(STATUS_OK) : Buffer.from("9f00c3a1d2e3f4a5b6c7d8e9", "hex");
    socket.end(Buffer.concat([Buffer.from(headers(`Content-Length: ${body.length}\r\n`)), body]));
  },
};

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((socket) => {
    let head = "";
    socket.on("error", () => undefined);
    socket.on("data", (data) => {
      if (head.includes("\r\n\r\n")) return;
      head += data.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      // GET /<behaviour>/connector/status
      const path = /^[A-Z]+ (\S+)/.exec(head)![1]!;
      const [, behaviour, ...rest] = path.split("/");
      BEHAVIOURS[behaviour!]!(socket, `/${rest.join("/")}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

const connector = (behaviour: string) => new Connector({ url: `http://127.0.0.1:${port}/${behaviour}`, connectTimeoutMs: 1500, requestTimeoutMs: 1500 });
const origin = () => `http://127.0.0.1:${port}`;
const failure = async (p: Promise<unknown>) => {
  const e = (await p.then(() => undefined, (error: unknown) => error)) as { message: string; advice?: string } | undefined;
  return e && { message: e.message, advice: e.advice };
};

describe("a connector that does not answer properly", () => {
  test("hangs: a timeout naming the connector and the time waited", async () => {
    expect(await failure(connector("hang").status())).toEqual({
      message: `cannot reach the HSM connector at ${origin()}: no complete answer within 1.5 s`,
      advice: "start yubihsm-connector (or `swtool hsm simulate`) and check the URL",
    });
  });

  test("hangs in the middle of the body: the same timeout, not an internal error", async () => {
    expect((await failure(connector("hang-in-body").status()))?.message).toBe(`cannot reach the HSM connector at ${origin()}: no complete answer within 1.5 s`);
  });

  const TOO_BIG = (limit: number) => ({
    message: `the HSM connector at ${origin()} sent an answer of more than ${limit} bytes; the connector API carries at most ${limit}`,
    advice: "check that the URL names yubihsm-connector (or `swtool hsm simulate`), not another service",
  });

  test("an endless chunked body is refused once it passes the cap", async () => {
    expect(await failure(connector("endless").status())).toEqual(TOO_BIG(4096));
    expect(await failure(connector("endless").send(new Uint8Array([1, 0, 0])))).toEqual(TOO_BIG(3136));
    await Bun.sleep(50);
    // The client stopped reading: the peer got no further than the socket buffers.
    expect(sent["endless/connector/status"]!).toBeLessThan(32 * 1024 * 1024);
  });

  test("a 300 MB body (declared or not) is refused without reading it", async () => {
    const before = process.memoryUsage().rss;
    expect(await failure(connector("huge").send(new Uint8Array([1, 0, 0])))).toEqual(TOO_BIG(3136));
    expect(await failure(connector("huge-undeclared").send(new Uint8Array([1, 0, 0])))).toEqual(TOO_BIG(3136));
    await Bun.sleep(50);
    expect(sent["huge-undeclared/connector/api"]!).toBeLessThan(64 * 1024 * 1024);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });

  test("garbage instead of a status page, and something that is not HTTP", async () => {
    expect(await failure(connector("garbage-status").status())).toEqual({
      message: `${origin()} answers HTTP 200 but is not a yubihsm-connector (no status on /connector/status)`,
      advice: "check the host and port of the connector URL",
    });
    expect(await failure(connector("not-http").status())).toEqual({
      message: `cannot reach the HSM connector at ${origin()}: what answers there does not speak HTTP (another service on that port?)`,
      advice: "start yubihsm-connector (or `swtool hsm simulate`) and check the URL",
    });
  });

  test("garbage answers to a command: swtool hsm info fails in one line, exit 1", async () => {
    const r = await swtool(["hsm", "info", "-c", `${origin()}/garbage-api`], { env: { SWTOOL_HSM_PIN: "password" } });
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "error: the answer to create-session with authentication key 0x0005 is not a YubiHSM message: create-session response: frame declares 195 bytes, 9 present\n" +
        "  fix: check that the connector URL names yubihsm-connector with a YubiHSM 2 behind it (or `swtool hsm simulate`)\n",
    });
  });
});
