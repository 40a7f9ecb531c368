import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource } from "typeorm";
import { formatDuration } from "../../Batch.Client/followRun";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import type { ChaosPlan, Random } from "./chaosPlan";
import { randomInt } from "./chaosPlan";
import { CHAOS_TASK_CLASS } from "./queueChaosTasks";
import type { RunnerFleet } from "./RunnerFleet";

/** DrainDependencies are what the chaos needs while the queue drains. */
export interface DrainDependencies {
  readonly dataSource: DataSource;
  readonly fleet: RunnerFleet;
  readonly random: Random;
  /** Restarts the database; required when the plan restarts it. */
  readonly restartDatabase?: () => Promise<void>;
  /** Receives progress and event lines. */
  readonly say: (line: string) => void;
}

/** DrainResult is how the drain ended. */
export interface DrainResult {
  /** False when the deadline passed with tasks still pending. */
  readonly drained: boolean;
  readonly databaseRestarts: number;
}

interface Counts {
  readonly done: number;
  readonly failed: number;
  readonly pending: number;
}

/** Kills fall while this share of the tasks has settled, not at the tail. */
const KILL_WINDOW = { from: 0.02, to: 0.8 };
const POLL_MS = { min: 20, max: 80 };
const PROGRESS_EVERY_MS = 2000;

/**
 * drainUnderChaos waits until no chaos task is pending or the plan's
 * deadline passes, meanwhile killing runners and restarting the database
 * as the plan says. Both fall at shares of the tasks settled: kills at
 * random shares drawn once, restarts at even ones (a third, for one), so a
 * slow machine gets the same chaos as a fast one.
 */
export async function drainUnderChaos(
  plan: ChaosPlan,
  deps: DrainDependencies,
): Promise<DrainResult> {
  const killAt = killSchedule(plan, deps.random);
  const restartAt = Array.from(
    { length: plan.databaseRestarts },
    (_, index) => (index + 1) / (plan.databaseRestarts + 2),
  );
  const deadline = Date.now() + plan.deadlineMs;
  let databaseRestarts = 0;
  let nextProgress = Date.now() + PROGRESS_EVERY_MS;

  for (;;) {
    const counts = await readCounts(deps.dataSource);
    if (counts?.pending === 0) return { drained: true, databaseRestarts };
    if (Date.now() > deadline) return { drained: false, databaseRestarts };

    if (counts !== undefined) {
      const settled = (counts.done + counts.failed) / plan.tasks;
      while (killAt.length > 0 && killAt[0] <= settled) {
        if (deps.fleet.killRandom() === undefined) break;
        killAt.shift();
      }
      if (restartAt.length > 0 && restartAt[0] <= settled) {
        restartAt.shift();
        await restartDatabase(deps);
        databaseRestarts += 1;
      }
      if (Date.now() >= nextProgress) {
        deps.say(describeProgress(plan, counts, deps.fleet));
        nextProgress = Date.now() + PROGRESS_EVERY_MS;
      }
    }
    await sleep(randomInt(deps.random, POLL_MS.min, POLL_MS.max));
  }
}

function killSchedule(plan: ChaosPlan, random: Random): number[] {
  const width = KILL_WINDOW.to - KILL_WINDOW.from;
  return Array.from(
    { length: plan.kills },
    () => KILL_WINDOW.from + random() * width,
  ).sort((a, b) => a - b);
}

/**
 * restartDatabase marks the outage for the fleet, so that runners dying
 * meanwhile are replaced once the database is back.
 */
async function restartDatabase(deps: DrainDependencies): Promise<void> {
  if (deps.restartDatabase === undefined) {
    throw new TypeError("Cannot restart the database: no restart was given");
  }
  deps.say("Restarting the database");
  const started = Date.now();
  deps.fleet.outage(true);
  try {
    await deps.restartDatabase();
  } finally {
    deps.fleet.outage(false);
  }
  deps.say(`Database back after ${formatDuration(Date.now() - started)}`);
}

/** readCounts counts chaos tasks by status; undefined while unreachable. */
async function readCounts(dataSource: DataSource): Promise<Counts | undefined> {
  try {
    const rows: { status: number; n: number }[] = await dataSource.query(
      `SELECT status, count(*)::int AS n FROM blog.batchjob
       WHERE classname = $1 GROUP BY status`,
      [CHAOS_TASK_CLASS],
    );
    const count = (status: TaskStatus) =>
      rows.find((row) => row.status === status)?.n ?? 0;
    return {
      done: count(TaskStatus.Done),
      failed: count(TaskStatus.Failed),
      pending: count(TaskStatus.Pending),
    };
  } catch {
    // The database is restarting; the next poll tries again.
    return undefined;
  }
}

function describeProgress(
  plan: ChaosPlan,
  counts: Counts,
  fleet: RunnerFleet,
): string {
  const stats = fleet.stats;
  return (
    `Progress: ${counts.done + counts.failed} of ${plan.tasks} settled ` +
    `(${counts.done} done, ${counts.failed} failed), ` +
    `${fleet.size} runners, ${stats.kills} kills, ` +
    `${stats.poisonDeaths} deaths by poison`
  );
}
