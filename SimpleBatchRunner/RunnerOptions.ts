import * as os from "node:os";

/** RunnerOptions tune one runner; validateRunnerOptions fills defaults. */
export interface RunnerOptions {
  /** Name in logs and in `runnerid`; default host name and process id. */
  readonly runnerId: string;
  /** Tasks claimed per round, 1 to 10,000; default 1, as the original. */
  readonly batchSize: number;
  /** Milliseconds to hold a round's locks before commit; default 0. */
  readonly holdMs: number;
  /** Stop when a round finds nothing, as the original did; default false. */
  readonly untilEmpty: boolean;
  /** Milliseconds between polls of an empty queue; default 1,000. */
  readonly pollIntervalMs: number;
}

const LIMITS = {
  batchSize: { min: 1, max: 10_000 },
  holdMs: { min: 0, max: 3_600_000 },
  pollIntervalMs: { min: 10, max: 3_600_000 },
} as const;

/**
 * validateRunnerOptions checks options once, at startup, and fills in the
 * defaults.
 *
 * @throws {RangeError} for a value out of range or not a whole number, or
 *   an empty runner id.
 */
export function validateRunnerOptions(
  options: Partial<RunnerOptions> = {},
): RunnerOptions {
  const runnerId = options.runnerId ?? `${os.hostname()}-${process.pid}`;
  if (runnerId.trim() === "") {
    throw new RangeError("Cannot start runner: id must not be empty");
  }
  return {
    runnerId,
    batchSize: wholeNumber("batchSize", options.batchSize ?? 1),
    holdMs: wholeNumber("holdMs", options.holdMs ?? 0),
    untilEmpty: options.untilEmpty ?? false,
    pollIntervalMs: wholeNumber("pollIntervalMs", options.pollIntervalMs ?? 1000),
  };
}

function wholeNumber(name: keyof typeof LIMITS, value: number): number {
  const { min, max } = LIMITS[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start runner: ${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
