import type { EntityManager } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { TaskStatus } from "./TaskStatus";

/**
 * claimPendingTasks locks up to `limit` pending tasks that are due, oldest
 * first, and returns them. The row lock is the claim: rows that another
 * runner holds are skipped, and the lock lasts exactly as long as the
 * caller's transaction, so a runner that dies frees its tasks at once.
 * A task waiting to retry is due once its `notbefore` has passed.
 *
 * Under REPEATABLE READ this throws a serialization failure (40001) when a
 * row it is about to lock was changed by a transaction that committed after
 * the snapshot; the caller retries the round.
 */
export function claimPendingTasks(
  manager: EntityManager,
  limit: number,
): Promise<BatchJob[]> {
  return manager
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :pending", { pending: TaskStatus.Pending })
    .andWhere("(job.notBefore IS NULL OR job.notBefore <= now())")
    .orderBy("job.id", "ASC")
    .limit(limit)
    .setLock("pessimistic_write")
    .setOnLocked("skip_locked")
    .getMany();
}

/**
 * msUntilNextRetry tells how long until the earliest task waiting to retry
 * becomes due, or undefined when none waits: a queue with such tasks is
 * not empty yet.
 */
export async function msUntilNextRetry(
  manager: EntityManager,
): Promise<number | undefined> {
  const row = (await manager
    .createQueryBuilder(BatchJob, "job")
    .select(
      "ceil(extract(epoch from min(job.notBefore) - now()) * 1000)::float8",
      "waitMs",
    )
    .where("job.status = :pending", { pending: TaskStatus.Pending })
    .andWhere("job.notBefore > now()")
    .getRawOne()) as { waitMs: number | null } | undefined;
  return row?.waitMs ?? undefined;
}
