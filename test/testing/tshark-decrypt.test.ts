import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { flushQlogFiles, listen, quic, serve, type QuicSocket } from "../../src/index.js";
import { createDevelopmentCertificates } from "../../src/pki/generate.js";
import { QpackDecoder } from "../../src/h3/qpack/decoder.js";
import { PcapWriter } from "../../src/testing/pcap.js";
import { UdpProxy } from "../../src/testing/udp-proxy.js";
import { fromHex } from "../../src/util/bytes.js";
import { parseQlog } from "../quic/qlog-schema.js";

const certs = createDevelopmentCertificates();
const TSQUIC = join(fileURLToPath(new URL("../../..", import.meta.url)), "bin", "tsquic");
// Fake addresses for the capture: tshark dissects UDP port 443 as QUIC.
const CLIENT = { address: "10.0.0.1", port: 50_000 };
const SERVER = { address: "10.0.0.2", port: 443 };

/** tshark's path; a missing tshark is a failure, not a skip: scripts/setup.sh installs it. */
function requireTshark(): string {
  const r = spawnSync("tshark", ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) assert.fail("tshark is not installed (it decodes the capture): run scripts/setup.sh, which installs it from Debian");
  return "tshark";
}

/** A proxy in front of `serverPort` that records every datagram it forwards into a pcap. */
async function capturingProxy(serverPort: number): Promise<{ proxy: UdpProxy; pcap: PcapWriter }> {
  const pcap = new PcapWriter();
  const start = Date.now();
  const proxy = await UdpProxy.start({
    listen: { address: "127.0.0.1", port: 0 },
    target: { address: "127.0.0.1", port: serverPort },
    onForward(direction, payload, time) {
      if (direction === "clientToServer") pcap.addUdp(start + time, CLIENT, SERVER, payload);
      else pcap.addUdp(start + time, SERVER, CLIENT, payload);
    },
  });
  return { proxy, pcap };
}

/** Runs tshark on a capture with a key log (or none) and returns one array of fields per displayed packet. */
function tsharkFields(pcapPath: string, keylog: string | undefined, filter: string, fields: string[]): string[][] {
  const args = ["-r", pcapPath, ...(keylog ? ["-o", `tls.keylog_file:${keylog}`] : []), "-Y", filter, "-T", "fields", "-E", "separator=|", "-E", "aggregator=,"];
  for (const f of fields) args.push("-e", f);
  const r = spawnSync(requireTshark(), args, { encoding: "utf8" });
  assert.equal(r.status, 0, `tshark failed: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => l.split("|"));
}

/** Values of one field over all packets (aggregated values split). */
function column(rows: string[][], index: number): string[] {
  return rows.flatMap((r) => (r[index] ? r[index]!.split(",") : []));
}

const hex = (s: string): string => Buffer.from(s).toString("hex");

test("tshark decrypts a raw QUIC connection with our key log: the TLS handshake with the server's certificate and the 1-RTT STREAM frames", async () => {
  requireTshark();
  const dir = mkdtempSync(join(tmpdir(), "tsquic-tshark-"));
  const keys = join(dir, "server.keys");
  const server = listen({
    hostname: "127.0.0.1",
    port: 0,
    quic: { cert: certs.leaf.pem, key: certs.leaf.keyPem },
    keylog: keys,
    stream: {
      data(stream, buf) {
        stream.write(Buffer.concat([Buffer.from("echo:"), buf]));
      },
      end(stream) {
        stream.end();
      },
    },
  });
  await server.ready;
  const { proxy, pcap } = await capturingProxy(server.port);
  let socket: QuicSocket | undefined;
  try {
    let ended!: () => void;
    const echoed = new Promise<void>((r) => (ended = r));
    socket = await quic(`127.0.0.1:${proxy.address.port}`, { tls: { ca: certs.ca.pem, serverName: "localhost" }, end: () => ended() });
    const marker = "tsquic-1rtt-payload-marker";
    socket.stream().end(marker);
    await echoed;
    socket.close();
    await new Promise((r) => setTimeout(r, 50));
    const capture = join(dir, "quic.pcap");
    pcap.writeFile(capture);

    const rows = tsharkFields(capture, keys, "quic", ["quic.stream_data", "tls.handshake.type", "x509ce.dNSName", "x509sat.uTF8String"]);
    assert.equal(rows.length, pcap.count, "tshark did not see every datagram as QUIC");
    const stream = column(rows, 0);
    assert.ok(stream.includes(hex(marker)), `the client's STREAM data was not decrypted: ${stream}`);
    assert.ok(stream.includes(hex(`echo:${marker}`)), `the server's STREAM data was not decrypted: ${stream}`);
    const handshake = new Set(column(rows, 1));
    // ClientHello (1), ServerHello (2), EncryptedExtensions (8), Certificate (11), CertificateVerify (15), Finished (20): RFC 8446 section 4.
    for (const t of ["1", "2", "8", "11", "15", "20"]) assert.ok(handshake.has(t), `handshake message ${t} not decoded: ${[...handshake]}`);
    assert.ok(column(rows, 2).includes("localhost"), "the certificate's subjectAltName was not decoded");
    assert.ok(column(rows, 3).includes("tsquic development CA"), "the certificate's issuer was not decoded");

    // Without the key log nothing past the Initial packets can be read: the key log is what decrypts.
    const blind = tsharkFields(capture, undefined, "quic", ["quic.stream_data", "tls.handshake.type"]);
    assert.deepEqual(column(blind, 0), []);
    assert.ok(!column(blind, 1).includes("11"), "the Certificate was readable without keys");
  } finally {
    socket?.close();
    server.stop(true);
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tshark decrypts an HTTP/3 exchange from `tsquic get` with SSLKEYLOGFILE: the request HEADERS carry our path and the DATA frame our body; both sides wrote qlogs", async () => {
  requireTshark();
  const dir = mkdtempSync(join(tmpdir(), "tsquic-tshark-h3-"));
  const clientKeys = join(dir, "client.keys");
  const serverKeys = join(dir, "server.keys");
  const ca = join(dir, "ca.pem");
  const qlogDir = join(dir, "qlog");
  writeFileSync(ca, certs.ca.pem);
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.leaf.pem,
    key: certs.leaf.keyPem,
    keylog: serverKeys,
    qlog: { dir: qlogDir },
    fetch: (req) => new Response(`h3-body-marker for ${new URL(req.url).pathname}`),
  });
  await server.ready;
  const { proxy, pcap } = await capturingProxy(server.port);
  try {
    const path = "/observe/h3-path-marker.txt";
    const { stdout } = await promisify(execFile)(process.execPath, [TSQUIC, "get", "--ca", ca, "--server-name", "localhost", "--qlog-dir", qlogDir, "--quiet", `https://127.0.0.1:${proxy.address.port}${path}`], {
      env: { ...process.env, SSLKEYLOGFILE: clientKeys },
      timeout: 30_000,
    });
    void stdout;
    await new Promise((r) => setTimeout(r, 50));
    const capture = join(dir, "h3.pcap");
    pcap.writeFile(capture);
    // The client's key log (from the environment variable) and the server's (from serve({ keylog: path })) hold the same secrets.
    const lines = (f: string) => readFileSync(f, "utf8").trim().split("\n").sort();
    assert.deepEqual(lines(clientKeys), lines(serverKeys));

    const rows = tsharkFields(capture, clientKeys, "http3", ["http3.frame_type", "http3.frame_payload"]);
    const frames: Array<{ type: string; payload: string }> = [];
    for (const r of rows) {
      const types = r[0]!.split(",");
      const payloads = (r[1] ?? "").split(",");
      types.forEach((type, i) => frames.push({ type, payload: payloads[i] ?? "" }));
    }
    // HEADERS is frame type 0x01, DATA 0x00, SETTINGS 0x04 (RFC 9114 section 7.2).
    assert.ok(frames.some((f) => f.type === "4"), "no SETTINGS frame decoded");
    const data = frames.filter((f) => f.type === "0").map((f) => Buffer.from(f.payload, "hex").toString());
    assert.ok(data.includes(`h3-body-marker for ${path}`), `response body not decoded: ${data}`);
    // The request's field section uses only the static table (Required Insert Count 0), so our decoder reads it alone.
    const requests = frames
      .filter((f) => f.type === "1" && f.payload.startsWith("0000"))
      .map((f) => new QpackDecoder().decodeFieldSection(0, fromHex(f.payload)))
      .flatMap((r) => (r.blocked ? [] : [Object.fromEntries(r.headers)]));
    assert.ok(
      requests.some((h) => h[":path"] === path && h[":method"] === "GET" && h[":authority"]?.startsWith("127.0.0.1")),
      `no decrypted HEADERS frame carries the request for ${path}: ${JSON.stringify(requests)}`,
    );

    // serve({ qlog }) and `tsquic get --qlog-dir` wrote one trace each for the connection.
    flushQlogFiles();
    const traces = readdirSync(qlogDir).sort();
    assert.equal(traces.length, 2, `qlog files: ${traces}`);
    const odcid = traces[0]!.split("_")[0];
    assert.deepEqual(traces, [`${odcid}_client.sqlog`, `${odcid}_server.sqlog`]);
    for (const t of traces) {
      const q = parseQlog(readFileSync(join(qlogDir, t), "utf8"));
      assert.ok(q.events.some((e) => e.name === "transport:alpn_information" && e.data.chosen_alpn === "h3"), `${t} has no h3 ALPN`);
    }
  } finally {
    await server.stop(true);
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
