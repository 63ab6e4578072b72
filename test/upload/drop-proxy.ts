// A TCP relay on 127.0.0.1 between the SFTP client and sshd that cuts the first connection(s)
// after a number of client-to-server bytes: a real dropped connection in the middle of an upload.
import { connect, createServer, type Server, type Socket } from "node:net";

export interface DropProxy {
  port: number;
  connections: number;
  close(): Promise<void>;
}

export async function startDropProxy(targetPort: number, options: { dropAfterBytes: number; dropConnections: number; onDrop?: () => void }): Promise<DropProxy> {
  const sockets = new Set<Socket>();
  const state = { connections: 0 };
  const server: Server = createServer((client) => {
    const n = ++state.connections;
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    let sent = 0;
    const drop = n <= options.dropConnections;
    client.on("data", (chunk: Buffer) => {
      sent += chunk.length;
      if (drop && sent > options.dropAfterBytes) {
        options.onDrop?.();
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
