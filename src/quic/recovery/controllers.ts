/**
 * Builds a congestion controller by name.
 */
import type { CongestionAlgorithm, CongestionController } from "./congestion.js";
import { kMinMaxDatagramSize } from "./constants.js";
import { Cubic } from "./cubic.js";
import { NewReno } from "./new-reno.js";

/**
 * A new controller: "reno" is NewReno as RFC 9002 section 7 specifies it (the
 * default), "cubic" is CUBIC (RFC 9438) with fast convergence.
 */
export function createCongestionController(
  algorithm: CongestionAlgorithm = "reno",
  maxDatagramSize: number = kMinMaxDatagramSize,
): CongestionController {
  switch (algorithm) {
    case "reno":
      return new NewReno(maxDatagramSize);
    case "cubic":
      return new Cubic(maxDatagramSize);
    default:
      throw new RangeError(`unknown congestion control algorithm ${String(algorithm)}`);
  }
}
