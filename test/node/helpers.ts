import { once } from "node:events";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { createQuicSocket, type ListenOptions, type NodeQuicSocket, type QuicServerSession } from "../../src/index.js";

/** One development CA and localhost certificate for the Node-style API tests. */
export const certs = createDevelopmentCertificates();

/** A listening server socket on 127.0.0.1 and its port. */
export async function startServer(listen: ListenOptions = {}, socketOptions: Parameters<typeof createQuicSocket>[0] = {}): Promise<{ server: NodeQuicSocket; port: number }> {
  const server = createQuicSocket({ endpoint: { address: "127.0.0.1", port: 0 }, ...socketOptions });
  await server.listen({ alpn: "test", cert: certs.leaf.pem, key: certs.leaf.keyPem, ...listen });
  return { server, port: (server.endpoints[0]!.address as { port: number }).port };
}

/** A client socket on 127.0.0.1. */
export function clientSocket(): NodeQuicSocket {
  return createQuicSocket({ endpoint: { address: "127.0.0.1" }, client: { alpn: "test", ca: certs.ca.pem, servername: "localhost" } });
}

/** The next server session. */
export async function nextSession(server: NodeQuicSocket): Promise<QuicServerSession> {
  const [s] = await once(server, "session");
  return s as QuicServerSession;
}

/** Collects a readable's bytes. */
export async function collect(readable: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of readable) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Destroys sockets, ignoring ones already gone. */
export async function closeAll(...sockets: NodeQuicSocket[]): Promise<void> {
  for (const s of sockets) if (!s.destroyed) {
    const closed = once(s, "close");
    s.destroy();
    await closed;
  }
}
