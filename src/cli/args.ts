/** Helpers for the command-line tool's option values. */

const MS_PER_UNIT = { seconds: 1000, milliseconds: 1 } as const;

/**
 * Reads a duration option given in `unit` (fractions allowed) and returns
 * it in ms; undefined when the option is absent. Throws a UsageError naming
 * the option when the value is not a positive number.
 */
export function durationOption(command: string, name: string, value: string | undefined, unit: keyof typeof MS_PER_UNIT): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`${command}: --${name} takes a positive number of ${unit}, not "${value}"`);
  return n * MS_PER_UNIT[unit];
}

/** A mistake in the command line: printed as is, and the command exits with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}
