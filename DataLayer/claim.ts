import type { EntityManager } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { TaskStatus } from "./TaskStatus";

/**
 * claimPendingTasks locks up to `limit` pending tasks that are due and
 * returns them: those from id `from` upwards first, then, if too few, those
 * below it, each part in id order. The row lock is the claim: rows that
 * another runner holds are skipped, and the lock lasts exactly as long as
 * the caller's transaction, so a runner that dies frees its tasks at once.
 * A task waiting to retry is due once its `notbefore` has passed.
 *
 * Under REPEATABLE READ this throws a serialization failure (40001) when a
 * row it is about to lock was changed by a transaction that committed after
 * the snapshot; the caller retries the round. Runners that all scan from
 * the lowest id meet exactly there, at the rows their peers are finishing;
 * runners that start from random points (`from`) rarely meet at all.
 */
export async function claimPendingTasks(
  manager: EntityManager,
  limit: number,
  from?: string,
): Promise<BatchJob[]> {
  const above = await claimQuery(manager, limit, from, ">=");
  if (above.length === limit || from === undefined) return above;
  const below = await claimQuery(manager, limit - above.length, from, "<");
  return [...above, ...below];
}

function claimQuery(
  manager: EntityManager,
  limit: number,
  from: string | undefined,
  side: ">=" | "<",
): Promise<BatchJob[]> {
  const query = manager
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :pending", { pending: TaskStatus.Pending })
    .andWhere("(job.notBefore IS NULL OR job.notBefore <= now())");
  if (from !== undefined) {
    const bound = side === ">=" ? "job.id >= :from" : "job.id < :from";
    query.andWhere(bound, { from });
  }
  return query
    .orderBy("job.id", "ASC")
    .limit(limit)
    .setLock("pessimistic_write")
    .setOnLocked("skip_locked")
    .getMany();
}

/** IdRange is the lowest and highest id of the pending tasks. */
export interface IdRange {
  readonly lowest: bigint;
  readonly highest: bigint;
}

/**
 * pendingIdRange reads the range of pending task ids, or undefined when
 * none is pending. Two probes of the pending-only index.
 */
export async function pendingIdRange(
  manager: EntityManager,
): Promise<IdRange | undefined> {
  const row = (await manager
    .createQueryBuilder(BatchJob, "job")
    .select("min(job.id)::text", "lowest")
    .addSelect("max(job.id)::text", "highest")
    .where("job.status = :pending", { pending: TaskStatus.Pending })
    .getRawOne()) as
    { lowest: string | null; highest: string | null } | undefined;
  if (row?.lowest == null || row.highest == null) return undefined;
  return { lowest: BigInt(row.lowest), highest: BigInt(row.highest) };
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
