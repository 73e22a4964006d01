import { LossDetection, type LossDetectionHandler, type LossDetectionOptions } from "../../../src/quic/recovery/loss-detection.js";
import { SentPacket } from "../../../src/quic/recovery/sent-packet.js";
import type { PacketNumberSpace } from "../../../src/quic/recovery/constants.js";

/** Records what a LossDetection reports, as "space:pn" strings. */
export class Recorder implements LossDetectionHandler<string> {
  acked: number[] = [];
  lost: number[] = [];
  ackedSpaces: PacketNumberSpace[] = [];
  lostSpaces: PacketNumberSpace[] = [];
  onPacketAcked(space: PacketNumberSpace, p: SentPacket<string>): void {
    this.acked.push(p.pn);
    this.ackedSpaces.push(space);
  }
  onPacketLost(space: PacketNumberSpace, p: SentPacket<string>): void {
    this.lost.push(p.pn);
    this.lostSpaces.push(space);
  }
  clear(): void {
    this.acked.length = 0;
    this.lost.length = 0;
    this.ackedSpaces.length = 0;
    this.lostSpaces.length = 0;
  }
}

/** A LossDetection with a recorder. */
export function setup(options: Partial<LossDetectionOptions> = {}): { ld: LossDetection<string>; rec: Recorder } {
  const rec = new Recorder();
  const ld = new LossDetection<string>(rec, { isServer: true, ...options });
  return { ld, rec };
}

/** Sends packet `pn` of `space` at `now`. */
export function send(
  ld: LossDetection<string>,
  space: PacketNumberSpace,
  pn: number,
  now: number,
  size = 1200,
  ackEliciting = true,
  inFlight = ackEliciting,
): SentPacket<string> {
  const p = new SentPacket(pn, now, size, ackEliciting, inFlight, `frames of ${pn}`);
  ld.onPacketSent(space, p);
  return p;
}
