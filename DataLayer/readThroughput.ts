import type { DataSource } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { TaskStatus } from "./TaskStatus";

/** RunnerThroughput is one runner's tasks ended per bucket, oldest first. */
export interface RunnerThroughput {
  readonly runnerId: string;
  readonly counts: readonly number[];
}

/** Throughput is how many tasks ended per bucket of time, per runner. */
export interface Throughput {
  /** The first bucket's start. */
  readonly from: Date;
  /** The last bucket's end: the database's clock, rounded up to a bucket. */
  readonly to: Date;
  readonly bucketMs: number;
  /** Runners that ended a task in the window, by id. */
  readonly runners: readonly RunnerThroughput[];
  /** All runners together, per bucket. */
  readonly total: readonly number[];
}

/** ThroughputOptions shape the window; both in milliseconds. */
export interface ThroughputOptions {
  /** Width of one bucket; default 5,000. */
  readonly bucketMs?: number;
  /** Length of the window, a multiple of bucketMs; default 600,000. */
  readonly windowMs?: number;
}

/**
 * readThroughput counts the tasks that ended (done or failed) in each
 * bucket of the last ten minutes, per runner that ended them, from
 * `stoppedat` and `runnerid`. Buckets are aligned to multiples of their
 * width since the epoch, so polling twice gives the same edges.
 *
 * @throws {RangeError} when bucketMs is not a positive integer or windowMs
 *   not a multiple of it, up to 10,000 buckets.
 */
export async function readThroughput(
  dataSource: DataSource,
  options: ThroughputOptions = {},
): Promise<Throughput> {
  const { bucketMs, buckets } = checkOptions(options);
  const [{ now }] = await dataSource.query("SELECT now() AS now");
  const to = new Date(Math.ceil((now as Date).getTime() / bucketMs) * bucketMs);
  const from = new Date(to.getTime() - buckets * bucketMs);

  const rows = await countPerBucket(dataSource, from, to, bucketMs);
  const perRunner = new Map<string, number[]>();
  const total = new Array<number>(buckets).fill(0);
  for (const row of rows) {
    const counts = perRunner.get(row.runnerid) ?? new Array(buckets).fill(0);
    counts[row.bucket] += row.tasks;
    total[row.bucket] += row.tasks;
    perRunner.set(row.runnerid, counts);
  }

  const runners = [...perRunner.keys()]
    .sort()
    .map((runnerId) => ({ runnerId, counts: perRunner.get(runnerId)! }));
  return { from, to, bucketMs, runners, total };
}

function checkOptions(options: ThroughputOptions): {
  bucketMs: number;
  buckets: number;
} {
  const bucketMs = options.bucketMs ?? 5_000;
  const windowMs = options.windowMs ?? 600_000;
  const buckets = windowMs / bucketMs;
  if (
    !Number.isInteger(bucketMs) ||
    bucketMs < 1 ||
    !Number.isInteger(buckets) ||
    buckets < 1 ||
    buckets > 10_000
  ) {
    throw new RangeError(
      "Cannot read throughput: windowMs must be 1 to 10,000 times a " +
        `positive integer bucketMs, got ${windowMs} and ${bucketMs}`,
    );
  }
  return { bucketMs, buckets };
}

async function countPerBucket(
  dataSource: DataSource,
  from: Date,
  to: Date,
  bucketMs: number,
): Promise<{ runnerid: string; bucket: number; tasks: number }[]> {
  const manager = dataSource.manager;
  const column = (property: keyof BatchJob & string) =>
    columnOf(manager, BatchJob, property);
  const stoppedAt = column("stoppedAt");

  // A task ended without a runner (none today) is shown under "-".
  return dataSource.query(
    `SELECT coalesce(${column("runnerId")}, '-') AS runnerid,
            floor(extract(epoch FROM ${stoppedAt} - $3::timestamptz)
                  * 1000 / $5)::int AS bucket,
            count(*)::int AS tasks
     FROM ${tableOf(manager, BatchJob)}
     WHERE ${column("status")} IN ($1, $2)
       AND ${stoppedAt} >= $3 AND ${stoppedAt} < $4
     GROUP BY 1, 2`,
    [TaskStatus.Done, TaskStatus.Failed, from, to, bucketMs],
  );
}
