import { TsquicError } from "../../util/errors.js";

/**
 * A protected packet whose AEAD tag did not verify with the key tried
 * (RFC 9001 section 5.3 and 5.5). The packet is dropped; the connection
 * counts it towards the integrity limit (RFC 9001 section 6.6), may try
 * another key phase, and checks the datagram for a stateless reset
 * (RFC 9000 section 10.3.1). The buffer is left as it was received.
 */
export class PacketDecryptError extends TsquicError {
  constructor(message = "packet failed AEAD authentication") {
    super("ERR_QUIC_PACKET_DECRYPT", message);
  }
}
