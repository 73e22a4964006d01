import { parseArgs } from "node:util";
import { createDevelopmentCertificates } from "../pki/generate.js";
import { listen, quic } from "../api/quic.js";

/**
 * The README's main job: an echo server on 127.0.0.1 and a client that
 * opens several streams over one connection, prints the echoes and the
 * connection's statistics.
 */
export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { streams: { type: "string", default: "4" }, bytes: { type: "string", default: "1048576" } } });
  const streamCount = Number(values.streams);
  const bulk = Number(values.bytes);
  const { ca, leaf } = createDevelopmentCertificates();

  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    alpn: "echo",
    quic: { cert: leaf.pem, key: leaf.keyPem },
    stream: {
      data(stream, buf) {
        stream.write(buf);
      },
    },
  });
  await server.ready;
  console.log(`echo server listening on ${server.hostname}:${server.port}`);

  const received = new Map<number, Buffer[]>();
  const socket = await quic(`127.0.0.1:${server.port}`, {
    alpn: "echo",
    tls: { ca: ca.pem, serverName: "localhost" },
    data(stream, buf) {
      received.get(stream.id)!.push(Buffer.from(buf));
    },
  });
  console.log(`connected: ALPN ${socket.alpnProtocol}, handshake ${socket.stats().handshakeDuration?.toFixed(1)} ms`);

  const expected = new Map<number, number>();
  for (let i = 0; i < streamCount; i++) {
    const s = socket.stream({ n: i });
    received.set(s.id, []);
    const text = Buffer.from(`hello from stream ${s.id}`);
    const payload = i === 0 ? Buffer.concat([text, Buffer.alloc(bulk, 0x61)]) : text;
    expected.set(s.id, payload.length);
    s.write(payload);
  }
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("echo timed out")), 30_000);
    const poll = setInterval(() => {
      for (const [id, n] of expected) if (received.get(id)!.reduce((a, b) => a + b.length, 0) < n) return;
      clearInterval(poll);
      clearTimeout(t);
      resolve();
    }, 5);
  });
  const elapsed = performance.now() - started;
  for (const [id, chunks] of received) {
    const all = Buffer.concat(chunks);
    const shown = all.length > 40 ? `${all.subarray(0, 24).toString()}... (${all.length} bytes)` : all.toString();
    console.log(`stream ${id}: ${shown}`);
  }
  const st = socket.stats();
  console.log(`\nechoed ${[...expected.values()].reduce((a, b) => a + b, 0)} bytes in ${elapsed.toFixed(0)} ms`);
  console.log("connection statistics:");
  console.log(`  rtt latest/min/smoothed/var  ${st.latestRtt.toFixed(3)} / ${st.minRtt.toFixed(3)} / ${st.smoothedRtt.toFixed(3)} / ${st.rttVariance.toFixed(3)} ms`);
  console.log(`  congestion window            ${st.congestionWindow} bytes`);
  console.log(`  sent                         ${st.packetsSent} packets, ${st.bytesSent} bytes`);
  console.log(`  received                     ${st.packetsReceived} packets, ${st.bytesReceived} bytes`);
  console.log(`  lost / retransmitted         ${st.packetsLost} packets / ${st.retransmittedBytes} bytes`);
  socket.close();
  server.stop(true);
  return 0;
}
