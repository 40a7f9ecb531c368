import * as os from "node:os";

/** RunnerOptions tune one runner; validateRunnerOptions fills defaults. */
export interface RunnerOptions {
  /** Name in logs and in `runnerid`; default host name and process id. */
  readonly runnerId: string;
  /** Tasks claimed per round, 1 to 10,000; default 1, as the original. */
  readonly batchSize: number;
  /**
   * Rounds in flight at once, each on a connection of its own, 1 to 64;
   * default 1, as the original. More lets one round's tasks run while
   * another waits for the database.
   */
  readonly concurrency: number;
  /** Milliseconds to hold a round's locks before commit; default 0. */
  readonly holdMs: number;
  /**
   * Stop once no task is pending: none to claim, none waiting to retry and
   * none that other rounds hold, which come back if their runner dies. The
   * original stopped at the first round that found nothing. Default false.
   */
  readonly untilEmpty: boolean;
  /** Milliseconds between polls of an empty queue; default 1,000. */
  readonly pollIntervalMs: number;
  /** A task's time limit unless its row sets one; default 10 minutes. */
  readonly taskTimeoutMs: number;
  /** How long tasks in hand may finish after a stop; default 30 s. */
  readonly shutdownGraceMs: number;
  /**
   * How long a round's transaction may sit idle before PostgreSQL ends its
   * session and frees its tasks: the bound on a frozen runner. It must
   * exceed `holdMs` and any pause a task makes between queries; default
   * 60 s.
   */
  readonly stallTimeoutMs: number;
  /** First retry delay of a failed task, doubling per attempt; default 1 s. */
  readonly retryBaseMs: number;
  /** Longest retry delay; default 5 minutes. */
  readonly retryMaxMs: number;
  /** Milliseconds between heartbeats in blog.runnerheartbeat; default 5 s. */
  readonly heartbeatIntervalMs: number;
  /**
   * The rounds' isolation level; default REPEATABLE READ, which the design
   * keeps: a task reads one consistent snapshot. READ COMMITTED exists to
   * measure what that costs.
   */
  readonly isolation: RoundIsolation;
}

/** RoundIsolation is a transaction isolation level a round may run at. */
export type RoundIsolation = "REPEATABLE READ" | "READ COMMITTED";

const ISOLATION_NAMES: Readonly<Record<string, RoundIsolation>> = {
  "repeatable-read": "REPEATABLE READ",
  "read-committed": "READ COMMITTED",
};

/**
 * parseIsolation reads an isolation option: repeatable-read or
 * read-committed.
 *
 * @throws {RangeError} for any other name.
 */
export function parseIsolation(text: string | undefined): RoundIsolation {
  if (text === undefined) return "REPEATABLE READ";
  const isolation = Object.hasOwn(ISOLATION_NAMES, text)
    ? ISOLATION_NAMES[text]
    : undefined;
  if (isolation === undefined) {
    throw new RangeError(
      `Cannot start runner: isolation must be repeatable-read or read-committed, got "${text}"`,
    );
  }
  return isolation;
}

type NumericOption = Exclude<
  keyof RunnerOptions,
  "runnerId" | "untilEmpty" | "isolation"
>;

const HOUR = 3_600_000;

const LIMITS: Readonly<Record<NumericOption, { min: number; max: number }>> = {
  batchSize: { min: 1, max: 10_000 },
  concurrency: { min: 1, max: 64 },
  holdMs: { min: 0, max: HOUR },
  pollIntervalMs: { min: 10, max: HOUR },
  taskTimeoutMs: { min: 10, max: 24 * HOUR },
  shutdownGraceMs: { min: 0, max: HOUR },
  stallTimeoutMs: { min: 1000, max: 24 * HOUR },
  retryBaseMs: { min: 0, max: HOUR },
  retryMaxMs: { min: 0, max: 24 * HOUR },
  heartbeatIntervalMs: { min: 100, max: HOUR },
};

const DEFAULTS: Readonly<Record<NumericOption, number>> = {
  batchSize: 1,
  concurrency: 1,
  holdMs: 0,
  pollIntervalMs: 1000,
  taskTimeoutMs: 600_000,
  shutdownGraceMs: 30_000,
  stallTimeoutMs: 60_000,
  retryBaseMs: 1000,
  retryMaxMs: 300_000,
  heartbeatIntervalMs: 5000,
};

/**
 * validateRunnerOptions checks options once, at startup, and fills in the
 * defaults.
 *
 * @throws {RangeError} for a value out of range or not a whole number, an
 *   empty runner id, or a stall timeout not above the hold.
 */
export function validateRunnerOptions(
  options: Partial<RunnerOptions> = {},
): RunnerOptions {
  const runnerId = options.runnerId ?? `${os.hostname()}-${process.pid}`;
  if (runnerId.trim() === "") {
    throw new RangeError("Cannot start runner: id must not be empty");
  }
  const numbers = {} as Record<NumericOption, number>;
  for (const name of Object.keys(LIMITS) as NumericOption[]) {
    numbers[name] = wholeNumber(name, options[name] ?? DEFAULTS[name]);
  }
  if (numbers.stallTimeoutMs <= numbers.holdMs) {
    throw new RangeError(
      `Cannot start runner: stallTimeoutMs (${numbers.stallTimeoutMs}) must exceed holdMs (${numbers.holdMs}), or PostgreSQL would end every held round`,
    );
  }
  return {
    runnerId,
    untilEmpty: options.untilEmpty ?? false,
    isolation: options.isolation ?? "REPEATABLE READ",
    ...numbers,
  };
}

function wholeNumber(name: NumericOption, value: number): number {
  const { min, max } = LIMITS[name];
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot start runner: ${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );
  }
  return value;
}
