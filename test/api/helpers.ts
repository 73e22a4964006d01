import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { listen, type QuicServer, type QuicServerOptions } from "../../src/index.js";

/** One development CA and localhost certificate for the API tests. */
export const certs = createDevelopmentCertificates();

/** Client TLS options trusting {@link certs}. */
export const clientTls = { ca: certs.ca.pem, serverName: "localhost" };

/** Starts a server on 127.0.0.1 with a free port and the test certificate. */
export async function startServer<T = unknown>(options: Omit<QuicServerOptions<T>, "quic"> & { quic?: QuicServerOptions<T>["quic"] }): Promise<QuicServer<T>> {
  const server = listen<T>({ hostname: "127.0.0.1", port: 0, quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem }, ...options } as QuicServerOptions<T>);
  await server.ready;
  return server;
}

/** Resolves when `predicate` holds (polled), rejects after `ms`. */
export async function until(predicate: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
