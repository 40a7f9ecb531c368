/** PoisonCounts say how many misbehaving tasks of each kind a run queues. */
export interface PoisonCounts {
  /** Tasks that always throw; 3 attempts each. */
  readonly throwing: number;
  /** Tasks that SIGKILL the runner that runs them; 3 attempts each. */
  readonly killing: number;
  /** Tasks that hang; a 500 ms time limit and 2 attempts each. */
  readonly hanging: number;
  /** Rows whose contract JSON fails validation; they fail at once. */
  readonly invalid: number;
}

/** ChaosPlan is what one chaos run does; validateChaosPlan fills it. */
export interface ChaosPlan {
  /** Tasks queued in all, poison included; default 3,000. */
  readonly tasks: number;
  /** Runner processes kept working; default 10. */
  readonly runners: number;
  /** SIGKILLs of random runners at random moments; default 20. */
  readonly kills: number;
  /** Whether runners that die are replaced; default true. */
  readonly restartRunners: boolean;
  /** Restarts of the database while the queue drains; default 1. */
  readonly databaseRestarts: number;
  /** Poison tasks among `tasks`; default 5 throwing, 3 killing, etc. */
  readonly poison: PoisonCounts;
  /** Each runner's --batch-size; default 10. */
  readonly batchSize: number;
  /** Each runner's --concurrency, its rounds in flight; default 1. */
  readonly concurrency: number;
  /** A work task sleeps from 0 to this many milliseconds; default 5. */
  readonly maxWorkMs: number;
  /** Seeds task order, work times and the kill schedule; default random. */
  readonly seed: number;
  /** Milliseconds the queue gets to drain; default 300,000. */
  readonly deadlineMs: number;
}

/** ChaosPlanInput is a plan with any field left to its default. */
export type ChaosPlanInput = Partial<Omit<ChaosPlan, "poison">> & {
  readonly poison?: Partial<PoisonCounts>;
};

/** The poison attempts allow up to this many runner deaths per task. */
export const KILLING_TASK_MAX_ATTEMPTS = 3;

const DEFAULT_POISON: PoisonCounts = {
  throwing: 5,
  killing: 3,
  hanging: 3,
  invalid: 5,
};

const LIMITS = {
  tasks: { min: 1, max: 1_000_000 },
  runners: { min: 1, max: 100 },
  kills: { min: 0, max: 10_000 },
  databaseRestarts: { min: 0, max: 20 },
  batchSize: { min: 1, max: 10_000 },
  concurrency: { min: 1, max: 64 },
  maxWorkMs: { min: 0, max: 60_000 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  deadlineMs: { min: 1000, max: 24 * 3_600_000 },
} as const;

/**
 * validateChaosPlan checks a plan once, before any database work, and
 * fills in the defaults.
 *
 * @throws {RangeError} for a count out of range or not a whole number, more
 *   poison than tasks, or, without runner restarts, more deaths planned
 *   than there are runners.
 */
export function validateChaosPlan(input: ChaosPlanInput = {}): ChaosPlan {
  const poison = { ...DEFAULT_POISON, ...input.poison };
  for (const [name, count] of Object.entries(poison)) {
    wholeNumber(`poison.${name}`, count, 0, 10_000);
  }
  const plan: ChaosPlan = {
    tasks: 3000,
    runners: 10,
    kills: 20,
    restartRunners: true,
    databaseRestarts: 1,
    batchSize: 10,
    concurrency: 1,
    maxWorkMs: 5,
    seed: Math.floor(Math.random() * 2 ** 32),
    deadlineMs: 300_000,
    ...definedFields(input),
    poison,
  };
  for (const [name, { min, max }] of Object.entries(LIMITS)) {
    wholeNumber(name, plan[name as keyof typeof LIMITS], min, max);
  }
  checkProportions(plan);
  return plan;
}

/** poisonTotal counts a plan's poison tasks. */
export function poisonTotal(poison: PoisonCounts): number {
  return poison.throwing + poison.killing + poison.hanging + poison.invalid;
}

function checkProportions(plan: ChaosPlan): void {
  if (poisonTotal(plan.poison) > plan.tasks) {
    throw new RangeError(
      `Cannot plan chaos: ${poisonTotal(plan.poison)} poison tasks do not fit in ${plan.tasks} tasks`,
    );
  }
  const deaths = plan.kills + plan.poison.killing * KILLING_TASK_MAX_ATTEMPTS;
  if (!plan.restartRunners && deaths >= plan.runners) {
    throw new RangeError(
      `Cannot plan chaos: without restarts, ${deaths} runner deaths would leave none of ${plan.runners} runners`,
    );
  }
}

function definedFields(input: ChaosPlanInput): Partial<ChaosPlan> {
  const { poison: _poison, ...rest } = input;
  return Object.fromEntries(
    Object.entries(rest).filter(([, value]) => value !== undefined),
  );
}

function wholeNumber(name: string, value: number, min: number, max: number) {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot plan chaos: ${name} must be a whole number from ${min} to ${max}, got ${value}`,
    );
  }
}

/** Random draws numbers in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * seededRandom is a small PRNG (mulberry32): the same seed gives the same
 * task order and kill schedule, so a run that found something can be
 * replayed, up to the timing that no seed controls.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), state | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** randomInt draws a whole number from `min` to `max`, both included. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** shuffle puts `items` in random order, in place (Fisher-Yates). */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let index = items.length - 1; index > 0; index -= 1) {
    const other = randomInt(random, 0, index);
    [items[index], items[other]] = [items[other], items[index]];
  }
  return items;
}
