import { appendFileSync, closeSync, openSync } from "node:fs";

/** Where key log lines go: a file path, or a function receiving each line. */
export type KeylogOption = string | ((line: string) => void);

/**
 * A key-log sink writing SSLKEYLOGFILE lines (the NSS key log format:
 * `LABEL <client random hex> <secret hex>`) to `path`, created or appended
 * to, readable by Wireshark and tshark to decrypt captured QUIC traffic.
 * A handful of lines per connection: each is appended synchronously so none
 * is lost when the process exits.
 */
export function keylogToFile(path: string): (line: string) => void {
  // Create the file up front (owner-only: it holds secrets) so a bad path fails at start, not mid-connection.
  closeSync(openSync(path, "a", 0o600));
  return (line: string) => appendFileSync(path, line.endsWith("\n") ? line : line + "\n");
}

/** The line sink of a {@link KeylogOption}: a path becomes a file writer; undefined stays undefined. */
export function keylogSink(option: KeylogOption | undefined): ((line: string) => void) | undefined {
  if (option === undefined) return undefined;
  if (typeof option === "function") return option;
  if (typeof option === "string" && option !== "") return keylogToFile(option);
  throw new TypeError("keylog must be a file path or a function receiving each line");
}
