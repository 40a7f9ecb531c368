import type { DataSource, EntityManager } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { BatchJobAttempt } from "./entities/BatchJobAttempt";
import { RunnerHeartbeat } from "./entities/RunnerHeartbeat";
import { columnOf, tableOf } from "./identifiers";
import { TaskStatus } from "./TaskStatus";

/**
 * StatusCounts are the task table's rows by state. The states do not
 * overlap, so they add up to `total`.
 */
export interface StatusCounts {
  /** Pending, due now and held by no runner. */
  readonly pending: number;
  /** Pending with `notbefore` still ahead: a retry's wait. */
  readonly waitingToRetry: number;
  /** Pending and held right now by a runner's open round. */
  readonly inProgress: number;
  readonly done: number;
  readonly failed: number;
  readonly total: number;
}

/** LiveRunner is a runner that is alive now, as far as the database sees. */
export interface LiveRunner {
  readonly runnerId: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: Date;
  /** Its last heartbeat, on the database's clock. */
  readonly lastSeenAt: Date;
  readonly tasksDone: number;
  readonly tasksFailed: number;
  /** Tasks its open round holds now, counted as `inProgress` counts them. */
  readonly tasksInHand: number;
}

/** RecentFailure is one of the latest failed tasks and why it failed. */
export interface RecentFailure {
  readonly id: string;
  readonly className: string;
  readonly stoppedAt: Date | null;
  /** The first line of `lasterror`: the error's name and message. */
  readonly error: string | null;
}

/** Status is one consistent picture of the queue and its runners. */
export interface Status {
  readonly counts: StatusCounts;
  /**
   * Milliseconds the longest-waiting due task has waited, since it was
   * queued or its retry became due; null when no pending task is due.
   */
  readonly oldestPendingAgeMs: number | null;
  /** Tasks done or failed in the last 60 seconds, per second. */
  readonly throughputLastMinute: number;
  /** Live runners, by id. */
  readonly runners: readonly LiveRunner[];
  /** The latest failed tasks, newest first. */
  readonly recentFailures: readonly RecentFailure[];
  /** The database's clock when the picture was taken. */
  readonly generatedAt: Date;
}

/** A runner silent for longer than three default heartbeats is dead. */
export const LIVE_RUNNER_MS = 3 * 5_000;

/** How many failed tasks readStatus lists. */
export const RECENT_FAILURES = 5;

const THROUGHPUT_WINDOW_MS = 60_000;

/** The prefix of a runner session's application_name; see runnerSession. */
export const RUNNER_SESSION_PREFIX = "batch-runner:";

/**
 * readStatus reads counts by state, the oldest due task's age, the last
 * minute's throughput, the live runners and the latest failures, all in
 * one read-only REPEATABLE READ transaction, so that they describe one
 * moment.
 *
 * `now` replaces the database's clock, for tests; by default the database
 * decides what "now" is, as the runners' heartbeats do.
 *
 * "In progress" and "live" come from pg_stat_activity, not from rows a
 * runner left behind: a crashed runner's session is gone at once. The role
 * that reads them needs pg_read_all_stats (or to be the runners' role, or a
 * superuser): PostgreSQL shows every session's application_name to every
 * role, but `xact_start` only for sessions the reader may see in full.
 * Without it, inProgress and tasksInHand read 0 and those tasks count as
 * pending; the live runners are still found.
 */
export async function readStatus(
  dataSource: DataSource,
  now?: Date,
): Promise<Status> {
  return dataSource.transaction("REPEATABLE READ", async (manager) => {
    await manager.query("SET TRANSACTION READ ONLY");
    const clock = await readClock(manager, now);

    // Sessions first: pg_stat_activity is read once per transaction, on
    // first use, so taking it next to the snapshot keeps the two close.
    const held = await readTasksInHand(manager);
    const counts = await readCounts(manager, clock, sum(held.values()));
    return {
      counts,
      oldestPendingAgeMs: await readOldestPendingAge(manager, clock),
      throughputLastMinute: await readThroughput(manager, clock),
      runners: await readLiveRunners(manager, clock, held),
      recentFailures: await readRecentFailures(manager),
      generatedAt: clock,
    };
  });
}

async function readClock(
  manager: EntityManager,
  now: Date | undefined,
): Promise<Date> {
  const [row] = await manager.query(
    "SELECT coalesce($1::timestamptz, now()) AS now",
    [now ?? null],
  );
  return row.now as Date;
}

/**
 * runnerSession is the SQL for a runner's application_name, as the runner
 * sets it: the prefix and its id, cut to PostgreSQL's 63 bytes.
 */
function runnerSession(runnerId: string): string {
  return `left('${RUNNER_SESSION_PREFIX}' || ${runnerId}, 63)`;
}

/**
 * readTasksInHand counts, per runner, the pending tasks that its open round
 * holds. A runner counts an attempt right after it claims, inside its
 * round's transaction, so an attempt claimed at or after the start of a
 * transaction still open in the runner's session is a row that session
 * has locked. A row left by a runner that died has no such session, and
 * one from an earlier round predates the session's transaction.
 */
async function readTasksInHand(
  manager: EntityManager,
): Promise<Map<string, number>> {
  const job = (property: keyof BatchJob & string) =>
    `job.${columnOf(manager, BatchJob, property)}`;
  const attempt = (property: keyof BatchJobAttempt & string) =>
    `attempt.${columnOf(manager, BatchJobAttempt, property)}`;

  const rows: { runnerid: string; tasks: number }[] = await manager.query(
    `SELECT ${attempt("runnerId")} AS runnerid, count(*)::int AS tasks
     FROM ${tableOf(manager, BatchJobAttempt)} AS attempt
     JOIN ${tableOf(manager, BatchJob)} AS job
       ON ${job("id")} = ${attempt("taskId")} AND ${job("status")} = $1
     WHERE EXISTS (
       SELECT 1 FROM pg_stat_activity AS session
       WHERE session.datname = current_database()
         AND session.application_name = ${runnerSession(attempt("runnerId"))}
         AND session.xact_start IS NOT NULL
         AND session.xact_start <= ${attempt("claimedAt")})
     GROUP BY ${attempt("runnerId")}`,
    [TaskStatus.Pending],
  );
  return new Map(rows.map((row) => [row.runnerid, row.tasks]));
}

async function readCounts(
  manager: EntityManager,
  clock: Date,
  inProgress: number,
): Promise<StatusCounts> {
  const status = columnOf(manager, BatchJob, "status");
  const notBefore = columnOf(manager, BatchJob, "notBefore");
  const [row]: {
    pending: number;
    waiting: number;
    done: number;
    failed: number;
  }[] = await manager.query(
    `SELECT
       count(*) FILTER (WHERE ${status} = $1
         AND (${notBefore} IS NULL OR ${notBefore} <= $4))::int AS pending,
       count(*) FILTER (WHERE ${status} = $1 AND ${notBefore} > $4)::int
         AS waiting,
       count(*) FILTER (WHERE ${status} = $2)::int AS done,
       count(*) FILTER (WHERE ${status} = $3)::int AS failed
     FROM ${tableOf(manager, BatchJob)}`,
    [TaskStatus.Pending, TaskStatus.Done, TaskStatus.Failed, clock],
  );

  // Held tasks are due pending rows; the claim skips the others.
  const pending = Math.max(0, row.pending - inProgress);
  return {
    pending,
    waitingToRetry: row.waiting,
    inProgress,
    done: row.done,
    failed: row.failed,
    total: pending + inProgress + row.waiting + row.done + row.failed,
  };
}

/**
 * readOldestPendingAge measures how long the longest-waiting due task has
 * waited: since it was queued, or since its retry became due if later.
 */
async function readOldestPendingAge(
  manager: EntityManager,
  clock: Date,
): Promise<number | null> {
  const status = columnOf(manager, BatchJob, "status");
  const notBefore = columnOf(manager, BatchJob, "notBefore");
  const enqueuedAt = columnOf(manager, BatchJob, "enqueuedAt");
  const [row] = await manager.query(
    `SELECT (extract(epoch FROM $2::timestamptz
               - min(greatest(${enqueuedAt}, ${notBefore}))) * 1000)::float8 AS age
     FROM ${tableOf(manager, BatchJob)}
     WHERE ${status} = $1 AND (${notBefore} IS NULL OR ${notBefore} <= $2)`,
    [TaskStatus.Pending, clock],
  );
  return row.age === null ? null : Math.max(0, Math.round(row.age));
}

async function readThroughput(
  manager: EntityManager,
  clock: Date,
): Promise<number> {
  const status = columnOf(manager, BatchJob, "status");
  const stoppedAt = columnOf(manager, BatchJob, "stoppedAt");

  // A retried attempt also sets stoppedat, but its task has not ended.
  const [row] = await manager.query(
    `SELECT count(*)::int AS ended FROM ${tableOf(manager, BatchJob)}
     WHERE ${status} IN ($1, $2)
       AND ${stoppedAt} > $3::timestamptz - $4 * interval '1 millisecond'
       AND ${stoppedAt} <= $3`,
    [TaskStatus.Done, TaskStatus.Failed, clock, THROUGHPUT_WINDOW_MS],
  );
  return row.ended / (THROUGHPUT_WINDOW_MS / 1000);
}

/**
 * readLiveRunners lists runners with a recent heartbeat that have not
 * stopped and whose session is still connected. The session check catches
 * a runner killed within its last heartbeat's window; it relies only on
 * application_name, which every role may read.
 */
async function readLiveRunners(
  manager: EntityManager,
  clock: Date,
  held: ReadonlyMap<string, number>,
): Promise<LiveRunner[]> {
  const beat = (property: keyof RunnerHeartbeat & string) =>
    `beat.${columnOf(manager, RunnerHeartbeat, property)}`;
  const rows: {
    runnerid: string;
    host: string;
    pid: number;
    startedat: Date;
    lastseenat: Date;
    tasksdone: number;
    tasksfailed: number;
  }[] = await manager.query(
    `SELECT ${beat("runnerId")} AS runnerid, ${beat("host")} AS host,
            ${beat("pid")} AS pid, ${beat("startedAt")} AS startedat,
            ${beat("lastSeenAt")} AS lastseenat,
            ${beat("tasksDone")} AS tasksdone,
            ${beat("tasksFailed")} AS tasksfailed
     FROM ${tableOf(manager, RunnerHeartbeat)} AS beat
     WHERE ${beat("lastSeenAt")}
             >= $1::timestamptz - $2 * interval '1 millisecond'
       AND ${beat("stoppedAt")} IS NULL
       AND EXISTS (
         SELECT 1 FROM pg_stat_activity AS session
         WHERE session.datname = current_database()
           AND session.application_name = ${runnerSession(beat("runnerId"))})
     ORDER BY ${beat("runnerId")}`,
    [clock, LIVE_RUNNER_MS],
  );
  return rows.map((row) => ({
    runnerId: row.runnerid,
    host: row.host,
    pid: row.pid,
    startedAt: row.startedat,
    lastSeenAt: row.lastseenat,
    tasksDone: row.tasksdone,
    tasksFailed: row.tasksfailed,
    tasksInHand: held.get(row.runnerid) ?? 0,
  }));
}

async function readRecentFailures(
  manager: EntityManager,
): Promise<RecentFailure[]> {
  const jobs = await manager
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :failed", { failed: TaskStatus.Failed })
    .orderBy("job.stoppedAt", "DESC", "NULLS LAST")
    .addOrderBy("job.id", "DESC")
    .limit(RECENT_FAILURES)
    .getMany();
  return jobs.map((job) => ({
    id: job.id,
    className: job.className,
    stoppedAt: job.stoppedAt,
    error: job.lastError === null ? null : job.lastError.split(/\r?\n/, 1)[0],
  }));
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
