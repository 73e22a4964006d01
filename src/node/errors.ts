/**
 * Errors of the Node-style API. Option problems are TypeErrors (as Node's
 * own argument validation throws) with a stable `code`; state problems are
 * {@link TsquicError}s.
 */
import { TsquicError } from "../util/errors.js";

/** An option this stack does not offer, or that is not known at all: a TypeError with a `code` naming the class of problem. */
export class QuicOptionError extends TypeError {
  /** ERR_QUIC_OPTION_UNSUPPORTED, ERR_QUIC_OPTION_UNKNOWN, ERR_MISSING_OPTION, ERR_INVALID_ARG_TYPE or ERR_INVALID_ARG_VALUE. */
  readonly code: string;
  /** The option's name, e.g. `listen.secureOptions`. */
  readonly option: string;

  constructor(code: string, option: string, message: string) {
    super(message);
    this.code = code;
    this.option = option;
    this.name = "QuicOptionError";
  }
}

/** An operation not allowed in the object's current state (closed, destroyed, not yet secure...). */
export function invalidState(message: string): TsquicError {
  return new TsquicError("ERR_INVALID_STATE", message);
}
