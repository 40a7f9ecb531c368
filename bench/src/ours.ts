/**
 * ours drives the product the way its users do: tasks queued through
 * enqueueTasks, runner processes started from the compiled build.
 */
import * as path from "node:path";
import { NOOP_TASK, NoopContract } from "./NoopTask";
import { launchNode, Started } from "./processes";
import { DataSourceLike, NewTask, product, RUNNER_ENTRY } from "./product";

/** NOOP_MODULE is the compiled no-op task, loaded by runners via --tasks. */
export const NOOP_MODULE = path.join(__dirname, "NoopTask.js");

/** RunnerCounts are what a runner's "Runner stopped" log line reports. */
export interface RunnerCounts {
  readonly rounds: number;
  readonly tasksDone: number;
  readonly serializationRetries: number;
}

/**
 * buildNoopTasks serializes `count` no-op contracts through the registry,
 * as the client does for real tasks, numbered from `firstSeq`.
 */
export function buildNoopTasks(count: number, firstSeq = 0): NewTask[] {
  const { taskRegistry } = product();
  const tasks: NewTask[] = [];
  for (let seq = firstSeq; seq < firstSeq + count; seq += 1) {
    tasks.push({
      className: NOOP_TASK,
      ...taskRegistry.serialize(NoopContract.of(seq)),
    });
  }
  return tasks;
}

/** enqueueAll queues tasks in one transaction through enqueueTasks. */
export function enqueueAll(
  dataSource: DataSourceLike,
  tasks: readonly NewTask[],
): Promise<number> {
  const { enqueueTasks } = product();
  return dataSource.transaction((manager) => enqueueTasks(manager, tasks));
}

/**
 * enqueueOne queues tasks with one call outside a transaction, as
 * graphile-worker's addJob and pg-boss's send are used.
 */
export function enqueueOne(
  dataSource: DataSourceLike,
  tasks: readonly NewTask[],
): Promise<number> {
  const { enqueueTasks } = product();
  return enqueueTasks(dataSource.manager, tasks);
}

/** resetTaskTables empties the task tables between runs. */
export async function resetTaskTables(
  dataSource: DataSourceLike,
): Promise<void> {
  await dataSource.query(
    "TRUNCATE blog.batchjob, blog.batchjobattempt, blog.runnerheartbeat RESTART IDENTITY",
  );
}

/**
 * launchRunners starts `count` runner processes on `url` with the given
 * options and, unless told otherwise, the no-op task loaded. LOG_LEVEL is
 * info, the default, so that each runner's last line carries its counts.
 */
export function launchRunners(
  url: string,
  count: number,
  args: readonly string[],
  options: { withNoopTask: boolean } = { withNoopTask: true },
): Started[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, index) => {
    const name = `bench-${String(index + 1).padStart(width, "0")}`;
    return launchNode({
      name,
      args: [
        RUNNER_ENTRY,
        ...(options.withNoopTask ? ["--tasks", NOOP_MODULE] : []),
        "--id",
        name,
        ...args,
      ],
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "info" },
    });
  });
}

/** countsFrom reads a runner's "Runner stopped" line from its stderr tail. */
function countsFrom(stderrTail: string): RunnerCounts | undefined {
  const line = stderrTail
    .split("\n")
    .reverse()
    .find((candidate) => candidate.includes('"Runner stopped"'));
  if (line === undefined) return undefined;
  try {
    const fields = JSON.parse(line) as Partial<RunnerCounts>;
    return {
      rounds: fields.rounds ?? 0,
      tasksDone: fields.tasksDone ?? 0,
      serializationRetries: fields.serializationRetries ?? 0,
    };
  } catch {
    return undefined;
  }
}

/** totalCounts adds up the counts of the runners that reported them. */
export function totalCounts(
  exits: readonly { readonly stderrTail: string }[],
): RunnerCounts {
  const total = { rounds: 0, tasksDone: 0, serializationRetries: 0 };
  for (const exit of exits) {
    const counts = countsFrom(exit.stderrTail);
    if (counts === undefined) continue;
    total.rounds += counts.rounds;
    total.tasksDone += counts.tasksDone;
    total.serializationRetries += counts.serializationRetries;
  }
  return total;
}

/** countHeartbeats counts the runners that have written a heartbeat. */
export async function countHeartbeats(
  dataSource: DataSourceLike,
): Promise<number> {
  const [row] = await dataSource.query(
    "SELECT count(*)::int AS beats FROM blog.runnerheartbeat",
  );
  return row.beats;
}

/**
 * taskTimes gives finished tasks' first start and last stop, epoch ms, of
 * the tasks with ids above `afterId`.
 */
export async function taskTimes(
  dataSource: DataSourceLike,
  afterId = 0,
): Promise<{ done: number; firstStart: number; lastStop: number }> {
  const [row] = await dataSource.query(
    `SELECT count(*)::int AS done,
            extract(epoch FROM min(startedat)) * 1000 AS first,
            extract(epoch FROM max(stoppedat)) * 1000 AS last
     FROM blog.batchjob WHERE status = 1 AND id > $1`,
    [afterId],
  );
  // No finished task gives nulls, which must not read as the epoch.
  const epoch = (value: unknown) =>
    value === null ? Number.NaN : Number(value);
  return {
    done: row.done,
    firstStart: epoch(row.first),
    lastStop: epoch(row.last),
  };
}

/**
 * anyPending tells whether a task is left that is not done or failed. It
 * reads the first entry of each of the claim's two indexes, in their
 * order, so that polling it while runners drain the queue costs the
 * server next to nothing: a count reads every pending entry, and once
 * statistics lag a large enqueue the planner counts by reading the whole
 * table, which taxed the runs it was timing.
 */
export async function anyPending(dataSource: DataSourceLike): Promise<boolean> {
  const [row] = await dataSource.query(
    `SELECT (SELECT id FROM blog.batchjob
              WHERE status = 0 AND notbefore IS NULL
              ORDER BY id LIMIT 1) IS NOT NULL
         OR (SELECT id FROM blog.batchjob
              WHERE status = 0 AND notbefore IS NOT NULL
              ORDER BY notbefore LIMIT 1) IS NOT NULL AS pending`,
  );
  return row.pending;
}

/**
 * countPending counts tasks not yet done or failed: those of the claim's
 * two indexes, fresh and waiting, so that polling it while runners drain
 * the queue never reads the finished rows.
 */
export async function countPending(
  dataSource: DataSourceLike,
): Promise<number> {
  const [row] = await dataSource.query(
    `SELECT ((SELECT count(*) FROM blog.batchjob
               WHERE status = 0 AND notbefore IS NULL)
           + (SELECT count(*) FROM blog.batchjob
               WHERE status = 0 AND notbefore IS NOT NULL))::int AS pending`,
  );
  return row.pending;
}
