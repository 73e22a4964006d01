import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isIP } from "node:net";
import { parseArgs } from "node:util";
import { serve } from "../h3/server.js";
import { createHqApp } from "../hq/server.js";
import { HQ_ALPN } from "../hq/request-line.js";
import { createDevelopmentCertificates } from "../pki/generate.js";
import { keylogToFile } from "../driver/keylog-file.js";
import { formatAddress } from "../quic/types.js";
import { staticFileHandler } from "./static-files.js";
import { durationOption } from "./args.js";

const USAGE =
  "usage: tsquic serve --root DIR [--host ADDR] [--port N] [--cert F --key F] [--keylog FILE] [--qlog-dir DIR] [--retry] [--max-udp-payload N]" +
  " [--preferred-address ADDR:PORT] [--ciphers LIST] [--early-data] [--handshake-timeout SECONDS] [--initial-rtt MS]";

/**
 * `tsquic serve`: serves a directory over HTTP/3 and hq-interop on one UDP
 * port (the connection's ALPN picks the protocol), with content-length and
 * content-type set. Without --cert/--key it generates a development CA and
 * certificate and says where the CA is, so clients can trust it.
 */
export async function runServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      root: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "4433" },
      cert: { type: "string" },
      key: { type: "string" },
      keylog: { type: "string" },
      "qlog-dir": { type: "string" },
      retry: { type: "boolean" },
      "max-udp-payload": { type: "string" },
      "preferred-address": { type: "string" },
      ciphers: { type: "string" },
      "early-data": { type: "boolean" },
      "handshake-timeout": { type: "string" },
      "initial-rtt": { type: "string" },
      quiet: { type: "boolean", short: "q" },
    },
  });
  if (!values.root) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const handshakeTimeout = durationOption("tsquic serve", "handshake-timeout", values["handshake-timeout"], "seconds");
  const initialRtt = durationOption("tsquic serve", "initial-rtt", values["initial-rtt"], "milliseconds");
  try {
    if (!statSync(values.root).isDirectory()) throw new Error("not a directory");
  } catch {
    process.stderr.write(`tsquic serve: --root ${values.root} is not a readable directory\n`);
    return 2;
  }
  if ((values.cert === undefined) !== (values.key === undefined)) {
    process.stderr.write("tsquic serve: give both --cert and --key, or neither for a development certificate\n");
    return 2;
  }
  let cert: string | Buffer;
  let key: string | Buffer;
  if (values.cert && values.key) {
    cert = readFileSync(values.cert);
    key = readFileSync(values.key);
  } else {
    const dev = createDevelopmentCertificates();
    const dir = mkdtempSync(join(tmpdir(), "tsquic-serve-"));
    writeFileSync(join(dir, "ca.pem"), dev.ca.pem);
    cert = dev.leaf.pem;
    key = dev.leaf.keyPem;
    process.stderr.write(`using a generated development certificate; its CA is ${join(dir, "ca.pem")}\n`);
  }
  let preferredAddress: { ipv4?: { address: string; port: number }; ipv6?: { address: string; port: number } } | undefined;
  if (values["preferred-address"]) {
    // RFC 9000 section 9.6: clients move here after the handshake; port 0 picks a free one (printed on stderr).
    const v = values["preferred-address"];
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
    if (!m || !isIP(m[1]!) || Number(m[2]) > 65535) {
      process.stderr.write(`tsquic serve: --preferred-address ${v}: expected ADDR:PORT or [IPV6]:PORT with an IP literal\n`);
      return 2;
    }
    const a = { address: m[1]!, port: Number(m[2]) };
    preferredAddress = isIP(a.address) === 6 ? { ipv6: a } : { ipv4: a };
  }
  // SSLKEYLOGFILE is the variable browsers and curl honour for the same purpose.
  const keylogPath = values.keylog ?? process.env.SSLKEYLOGFILE;
  const keylog = keylogPath ? keylogToFile(keylogPath) : undefined;
  const hq = await createHqApp({ root: values.root });
  const server = serve({
    hostname: values.host,
    port: Number(values.port),
    cert,
    key,
    fetch: staticFileHandler(values.root),
    otherProtocols: { [HQ_ALPN]: hq.handlers },
    ...(keylog ? { keylog } : {}),
    ...(values["qlog-dir"] ? { qlog: values["qlog-dir"] } : {}),
    ...(values.retry ? { validateAddress: true } : {}),
    ...(preferredAddress ? { preferredAddress } : {}),
    ...(values["max-udp-payload"] ? { maxUdpPayloadSize: Number(values["max-udp-payload"]) } : {}),
    ...(values.ciphers ? { ciphers: values.ciphers } : {}),
    // GET and HEAD from 0-RTT (files are static: a replay does no harm); other methods get 425.
    ...(values["early-data"] ? { earlyData: true } : {}),
    ...(handshakeTimeout ? { handshakeTimeout } : {}),
    ...(initialRtt ? { initialRtt } : {}),
  });
  await server.ready;
  // The port on stdout (and nothing else) lets scripts and tests find a server started with --port 0.
  process.stdout.write(`${server.port}\n`);
  if (!values.quiet) process.stderr.write(`serving ${values.root} over h3 and ${HQ_ALPN} on ${server.hostname}:${server.port}\n`);
  const offered = server.preferredAddress;
  if (offered && !values.quiet) process.stderr.write(`preferred address offered to clients: ${[offered.ipv4, offered.ipv6].filter((a) => a).map((a) => formatAddress(a!)).join(", ")}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void Promise.all([server.stop(true), hq.abortAll()]).then(() => resolve());
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  return 0;
}
