import { appendFileSync, openSync, closeSync } from "node:fs";

/**
 * A key-log sink writing SSLKEYLOGFILE lines to `path` (created or appended
 * to), readable by Wireshark/tshark to decrypt captured QUIC traffic.
 * Writes are synchronous so no line is lost when the process exits.
 */
export function keylogToFile(path: string): (line: string) => void {
  // Create the file up front so a bad path fails at start, not mid-connection.
  closeSync(openSync(path, "a", 0o600));
  return (line: string) => appendFileSync(path, line.endsWith("\n") ? line : line + "\n");
}
