/**
 * Loss recovery, acknowledgement tracking, congestion control and pacing
 * (RFC 9002; RFC 9000 section 13; RFC 9438).
 */
export * from "./constants.js";
export { RttEstimator } from "./rtt.js";
export { AckTracker, type AckTrackerOptions } from "./ack-tracker.js";
export { SentPacket, SentPacketStore, SKIPPED } from "./sent-packet.js";
export { WindowedController, type CongestionAlgorithm, type CongestionController } from "./congestion.js";
export { NewReno } from "./new-reno.js";
export { Cubic, kCubicAlpha, kCubicBeta, kCubicC, type CubicOptions } from "./cubic.js";
export { createCongestionController } from "./controllers.js";
export { Pacer } from "./pacer.js";
export {
  LossDetection,
  RecoveryStats,
  TimeoutAction,
  type LossDetectionHandler,
  type LossDetectionOptions,
  type RecoveryStatsSnapshot,
} from "./loss-detection.js";
