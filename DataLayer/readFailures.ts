import type { DataSource } from "typeorm";
import { In } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { BatchJobAttempt } from "./entities/BatchJobAttempt";
import { checkTaskIds } from "./taskIds";
import { TaskStatus } from "./TaskStatus";

/** FailedTask is one failed task and why it failed. */
export interface FailedTask {
  readonly id: string;
  readonly className: string;
  readonly contractName: string;
  readonly contractJson: string;
  /** Times the task was claimed; 0 when it never was. */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly runnerId: string | null;
  readonly stoppedAt: Date | null;
  /** The error's name, message and a bounded stack. */
  readonly lastError: string | null;
}

/** Failures are some failed tasks, in id order, and how many failed. */
export interface Failures {
  readonly tasks: readonly FailedTask[];
  /** Every failed task in the table, whatever `limit` and `ids` select. */
  readonly total: number;
}

/** ReadFailuresOptions select which failed tasks readFailures returns. */
export interface ReadFailuresOptions {
  /** Most tasks returned, from 1 to 10,000; default 50. */
  readonly limit?: number;
  /** Only these tasks, those of them that failed; default all. */
  readonly ids?: readonly string[];
}

/** The largest `limit`: a list longer than this is read another way. */
export const MAX_FAILURES_LIMIT = 10_000;

/**
 * validateReadFailuresOptions checks the options and fills in defaults, so
 * that a command can refuse them before it connects.
 *
 * @throws {RangeError} when `limit` is not an integer from 1 to 10,000 or
 *   an id is not a positive integer.
 */
export function validateReadFailuresOptions(options: ReadFailuresOptions): {
  limit: number;
  ids: string[] | undefined;
} {
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_FAILURES_LIMIT) {
    throw new RangeError(
      "Cannot read failed tasks: limit must be an integer from 1 to " +
        `10,000, got ${limit}`,
    );
  }
  const ids =
    options.ids === undefined
      ? undefined
      : checkTaskIds("Cannot read failed tasks", options.ids);
  return { limit, ids };
}

/**
 * readFailures reads failed tasks in id order, each with its attempt count,
 * and counts all failed tasks.
 *
 * @throws {RangeError} when the options are invalid, before any query.
 */
export async function readFailures(
  dataSource: DataSource,
  options: ReadFailuresOptions = {},
): Promise<Failures> {
  const { limit, ids } = validateReadFailuresOptions(options);

  const query = dataSource
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :failed", { failed: TaskStatus.Failed })
    .orderBy("job.id", "ASC")
    .limit(limit);
  if (ids !== undefined) query.andWhere("job.id IN (:...ids)", { ids });
  const jobs = await query.getMany();

  const attempts = await attemptsOf(dataSource, jobs);
  const total = await dataSource
    .getRepository(BatchJob)
    .countBy({ status: TaskStatus.Failed });
  return {
    tasks: jobs.map((job) => failedTask(job, attempts.get(job.id) ?? 0)),
    total,
  };
}

async function attemptsOf(
  dataSource: DataSource,
  jobs: readonly BatchJob[],
): Promise<Map<string, number>> {
  if (jobs.length === 0) return new Map();
  const rows = await dataSource
    .getRepository(BatchJobAttempt)
    .findBy({ taskId: In(jobs.map((job) => job.id)) });
  return new Map(rows.map((row) => [row.taskId, row.attempts]));
}

function failedTask(job: BatchJob, attempts: number): FailedTask {
  return {
    id: job.id,
    className: job.className,
    contractName: job.contractName,
    contractJson: job.contractJson,
    attempts,
    maxAttempts: job.maxAttempts,
    runnerId: job.runnerId,
    stoppedAt: job.stoppedAt,
    lastError: job.lastError,
  };
}
