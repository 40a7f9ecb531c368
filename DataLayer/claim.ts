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
