import { parseArgs } from "node:util";
import { writeDevelopmentCertificates } from "../pki/generate.js";
import { runDemo } from "./demo.js";
import { runGet } from "./get.js";
import { runServe } from "./serve.js";
import { UsageError } from "./args.js";

const USAGE = `Usage: tsquic <command> [options]

Commands:
  cert --out DIR     write a local CA (ca.pem) and a certificate for localhost,
                     127.0.0.1 and ::1 (cert.pem, key.pem; ECDSA P-256)
  serve --root DIR [--host ADDR] [--port N] [--cert F --key F] [--keylog FILE] [--qlog-dir DIR]
        [--retry] [--ciphers LIST] [--early-data] [--handshake-timeout SECONDS] [--initial-rtt MS]
                     serve a directory over HTTP/3 and hq-interop on one port
                     (a development certificate is generated when none is given)
  get URL... [--output DIR] [--ca FILE | --insecure] [--alpn h3|hq-interop] [--keylog FILE] [--qlog-dir DIR]
      [--session-file FILE] [--disable-early-data] [--ciphers LIST] [--key-update] [--handshake-timeout SECONDS] [--initial-rtt MS]
                     download URLs over one connection with the requests in
                     parallel; exit 0 only when every file arrived complete

  --keylog FILE      append TLS secrets in the SSLKEYLOGFILE format (Wireshark
                     decrypts captures with it); default: $SSLKEYLOGFILE
  --qlog-dir DIR     write one qlog file (.sqlog, JSON-SEQ, for qvis) per connection
  --handshake-timeout SECONDS
                     give up on a handshake after this long (default 10)
  --initial-rtt MS   RTT assumed before the first sample (default 333); sets
                     the first probe timeouts (RFC 9002 section 6.2.2)
  demo               run an echo server on 127.0.0.1 and a client that opens
                     several streams, then print what came back and the
                     connection's statistics
  help               show this text
`;

/** Runs the tool with `argv` (without the node and script paths); resolves to the exit code (2 for a usage mistake). */
export async function main(argv: string[]): Promise<number> {
  try {
    return await runCommand(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 2;
  }
}

async function runCommand(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "cert": {
      const { values } = parseArgs({ args: rest, options: { out: { type: "string", short: "o" } } });
      if (!values.out) {
        process.stderr.write("tsquic cert: --out DIR is required\n");
        return 2;
      }
      const paths = await writeDevelopmentCertificates(values.out);
      process.stdout.write(`wrote ${paths.caPath}\nwrote ${paths.certPath}\nwrote ${paths.keyPath}\n`);
      return 0;
    }
    case "demo":
      return runDemo(rest);
    case "get":
      return runGet(rest);
    case "serve":
      return runServe(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`tsquic: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
