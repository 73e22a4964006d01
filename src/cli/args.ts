/** Helpers for the command-line tool's option values. */

/**
 * Reads an option given in seconds (fractions allowed) and returns it in ms;
 * undefined when the option is absent. Throws a UsageError naming the option
 * when the value is not a positive number.
 */
export function secondsOption(command: string, name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new UsageError(`${command}: --${name} takes a positive number of seconds, not "${value}"`);
  return seconds * 1000;
}

/** A mistake in the command line: printed as is, and the command exits with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
