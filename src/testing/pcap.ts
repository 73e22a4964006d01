/**
 * A capture file writer for UDP datagrams: the classic libpcap format
 * (https://www.tcpdump.org/manpages/pcap-savefile.5.html) with
 * LINKTYPE_RAW, so every record is an IPv4 packet built around the UDP
 * payload. Wireshark and tshark read it; with a key log they decrypt the
 * QUIC inside. Capturing on a real interface needs privileges; a test
 * writes what its proxy or driver forwarded instead.
 */
import { writeFileSync } from "node:fs";
import { isIPv4 } from "node:net";
import type { SocketAddress } from "../quic/types.js";

/** pcap magic number for microsecond timestamps, written in our byte order (little-endian). */
const PCAP_MAGIC = 0xa1b2c3d4;
/** LINKTYPE_RAW: packets start with an IPv4 or IPv6 header (tcpdump.org link-layer header types). */
const LINKTYPE_RAW = 101;
/** Snapshot length: the largest record we keep whole. */
const SNAPLEN = 65535;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
/** IP protocol number of UDP (RFC 768). */
const IPPROTO_UDP = 17;

/** Collects UDP datagrams and writes them as one pcap file. */
export class PcapWriter {
  private readonly records: Buffer[] = [];

  /** Datagrams recorded so far. */
  get count(): number {
    return this.records.length;
  }

  /**
   * Records one datagram sent from `from` to `to` at `timeMs` (ms since the
   * Unix epoch, fractions kept to the microsecond). Addresses must be IPv4
   * literals (a capture can use fake ones: only the dissector reads them).
   */
  addUdp(timeMs: number, from: SocketAddress, to: SocketAddress, payload: Uint8Array): void {
    if (!isIPv4(from.address) || !isIPv4(to.address)) throw new TypeError("PcapWriter records IPv4 addresses only");
    const total = IPV4_HEADER + UDP_HEADER + payload.length;
    if (total > SNAPLEN) throw new RangeError(`a datagram of ${payload.length} bytes does not fit an IPv4 packet`);
    const rec = Buffer.alloc(16 + total);
    const micros = Math.round(timeMs * 1000);
    rec.writeUInt32LE(Math.floor(micros / 1e6), 0);
    rec.writeUInt32LE(micros % 1e6, 4);
    rec.writeUInt32LE(total, 8);
    rec.writeUInt32LE(total, 12);
    // IPv4 header (RFC 791): version 4, 5 words, DF, TTL 64, UDP.
    const ip = 16;
    rec[ip] = 0x45;
    rec.writeUInt16BE(total, ip + 2);
    rec.writeUInt16BE(this.records.length & 0xffff, ip + 4);
    rec.writeUInt16BE(0x4000, ip + 6);
    rec[ip + 8] = 64;
    rec[ip + 9] = IPPROTO_UDP;
    writeIPv4(rec, ip + 12, from.address);
    writeIPv4(rec, ip + 16, to.address);
    rec.writeUInt16BE(ipv4Checksum(rec.subarray(ip, ip + IPV4_HEADER)), ip + 10);
    // UDP header (RFC 768); a zero checksum means "none" over IPv4.
    const udp = ip + IPV4_HEADER;
    rec.writeUInt16BE(from.port, udp);
    rec.writeUInt16BE(to.port, udp + 2);
    rec.writeUInt16BE(UDP_HEADER + payload.length, udp + 4);
    rec.set(payload, udp + UDP_HEADER);
    this.records.push(rec);
  }

  /** The whole capture: the global header and every record. */
  toBuffer(): Buffer {
    const header = Buffer.alloc(24);
    header.writeUInt32LE(PCAP_MAGIC, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(SNAPLEN, 16);
    header.writeUInt32LE(LINKTYPE_RAW, 20);
    return Buffer.concat([header, ...this.records]);
  }

  /** Writes the capture to `path`. */
  writeFile(path: string): void {
    writeFileSync(path, this.toBuffer());
  }
}

function writeIPv4(buf: Buffer, offset: number, address: string): void {
  const parts = address.split(".");
  for (let i = 0; i < 4; i++) buf[offset + i] = Number(parts[i]);
}

/** The Internet checksum of a header whose checksum field is zero (RFC 791 section 3.1). */
function ipv4Checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < header.length; i += 2) sum += (header[i]! << 8) | header[i + 1]!;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
