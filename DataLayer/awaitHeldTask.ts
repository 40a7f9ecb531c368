import type { DataSource, QueryRunner } from "typeorm";
import { beginTransaction } from "./beginTransaction";
import { claimable, QueuePart } from "./claim";
import { SqlState, sqlStateOf } from "./sqlState";
import { TaskStatus } from "./TaskStatus";

/**
 * HeldTaskWait tells how a wait for the due tasks that other rounds hold
 * ended:
 * - "freed": one is back in the queue, because its round rolled back or
 *   its runner died, and a claim can take it;
 * - "ended": none is held any more: each ended, or went back to wait for
 *   its retry;
 * - "held": some were still held when the wait timed out.
 */
export type HeldTaskWait = "freed" | "ended" | "held";

/**
 * awaitHeldTask waits, at most about `timeoutMs` for each of the two, for
 * the first fresh task and the first due retry that a claim would take, if
 * other rounds hold them: a runner that stops at an empty queue waits so,
 * rather than leaving the tasks of a peer that dies to nobody. It waits on
 * their row locks, so it ends the moment their rounds do, without polling.
 *
 * It runs at READ COMMITTED, where a row whose holder committed it done or
 * waiting is read again and left, and the wait moves on to the next held
 * one: REPEATABLE READ would refuse it instead (40001).
 */
export async function awaitHeldTask(
  dataSource: DataSource,
  timeoutMs: number,
): Promise<HeldTaskWait> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    await beginTransaction(queryRunner, "READ COMMITTED");
    // For this transaction only; and walk the claim's indexes in order,
    // as the claim does.
    await queryRunner.query(
      "SELECT set_config('lock_timeout', $1, true), " +
        "set_config('enable_sort', 'off', true)",
      [String(Math.max(1, Math.round(timeoutMs)))],
    );
    const freed =
      (await lockFirst(queryRunner, "fresh")) ||
      (await lockFirst(queryRunner, "due"));
    await queryRunner.commitTransaction();
    return freed ? "freed" : "ended";
  } catch (error) {
    if (queryRunner.isTransactionActive) {
      await queryRunner.rollbackTransaction().catch(() => undefined);
    }
    if (sqlStateOf(error) === SqlState.LockNotAvailable) return "held";
    throw error;
  } finally {
    await queryRunner.release();
  }
}

/**
 * lockFirst takes the weakest row lock on the first task of one part of
 * the queue that a claim would take, waiting while another round holds
 * it, and tells whether it found one. The lock ends with the transaction;
 * a claim that meets it meanwhile skips the row for that instant.
 */
async function lockFirst(
  queryRunner: QueryRunner,
  part: QueuePart,
): Promise<boolean> {
  const row = await claimable(queryRunner.manager, part)
    .select("job.id", "id")
    .setParameter("pending", TaskStatus.Pending)
    .limit(1)
    .setLock("for_key_share")
    .getRawOne();
  return row !== undefined;
}
