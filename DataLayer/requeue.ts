import type { EntityManager } from "typeorm";
import { BatchError } from "../Contracts/errors";
import { BatchJob } from "./entities/BatchJob";
import { BatchJobAttempt } from "./entities/BatchJobAttempt";
import { columnOf, tableOf } from "./identifiers";
import { announceQueued } from "./queueNotifications";
import { checkTaskIds } from "./taskIds";
import { TaskStatus } from "./TaskStatus";

/** RequeueSelection names the failed tasks to requeue: all, or these ids. */
export type RequeueSelection =
  { readonly all: true } | { readonly ids: readonly string[] };

/**
 * RequeueRefusedError: some of the tasks named for requeueing do not exist
 * or are not failed, so none was requeued. `reasons` says, per id, why:
 * "is done", "is pending", "is waiting to retry", "does not exist", or
 * "is no longer failed" when a concurrent requeue took it first.
 */
export class RequeueRefusedError extends BatchError {
  constructor(
    readonly ids: readonly string[],
    readonly reasons: ReadonlyMap<string, string>,
  ) {
    const tasks = ids.length === 1 ? "task" : "tasks";
    const why = ids.map((id) => `${id} ${reasons.get(id)}`).join(", ");
    super(`Cannot requeue ${tasks} ${ids.join(", ")}: ${why}`);
  }
}

/**
 * requeueFailedTasks returns failed tasks to pending, in one transaction,
 * and returns the ids it requeued, in id order. A requeued task may run at
 * once (`notbefore` is cleared), loses its run's times and runner, and gets
 * its full attempts again (its attempt count is deleted). `lasterror` is
 * kept, so the previous reason stays visible until the task runs again.
 * Only failed rows are written; selecting all when none failed returns [].
 *
 * @throws {RangeError} when an id is malformed, before any database work.
 * @throws {RequeueRefusedError} when a named task does not exist or is not
 *   failed; then nothing is changed.
 */
export async function requeueFailedTasks(
  manager: EntityManager,
  selection: RequeueSelection,
): Promise<string[]> {
  const ids =
    "ids" in selection
      ? checkTaskIds("Cannot requeue tasks", selection.ids)
      : undefined;

  return manager.transaction(async (transaction) => {
    if (ids !== undefined) await refuseUnlessFailed(transaction, ids);
    const requeued = await markPending(transaction, ids);

    // Some other requeue got there between our check and our write; the
    // transaction rolls back so that the caller's list is all or nothing.
    if (ids !== undefined && requeued.length !== ids.length) {
      const lost = ids.filter((id) => !requeued.includes(id));
      const reasons = new Map(lost.map((id) => [id, "is no longer failed"]));
      throw new RequeueRefusedError(lost, reasons);
    }
    await forgetAttempts(transaction, requeued);
    if (requeued.length > 0) await announceQueued(transaction);
    return requeued;
  });
}

async function refuseUnlessFailed(
  manager: EntityManager,
  ids: readonly string[],
): Promise<void> {
  const rows = await manager
    .createQueryBuilder(BatchJob, "job")
    .select("job.id", "id")
    .addSelect("job.status", "status")
    .addSelect("job.lastError IS NOT NULL AND job.notBefore > now()", "waiting")
    .where("job.id IN (:...ids)", { ids })
    .getRawMany<{ id: string; status: TaskStatus; waiting: boolean }>();

  const found = new Map(rows.map((row) => [String(row.id), row]));
  const reasons = new Map<string, string>();
  for (const id of ids) {
    const row = found.get(id);
    if (row === undefined) reasons.set(id, "does not exist");
    else if (row.status !== TaskStatus.Failed) reasons.set(id, reasonOf(row));
  }
  if (reasons.size > 0) {
    throw new RequeueRefusedError([...reasons.keys()], reasons);
  }
}

function reasonOf(row: { status: TaskStatus; waiting: boolean }): string {
  if (row.status === TaskStatus.Done) return "is done";
  if (row.waiting) return "is waiting to retry";
  return "is pending";
}

async function markPending(
  manager: EntityManager,
  ids: readonly string[] | undefined,
): Promise<string[]> {
  const column = (property: keyof BatchJob & string) =>
    columnOf(manager, BatchJob, property);
  const cleared = (["notBefore", "startedAt", "stoppedAt", "runnerId"] as const)
    .map((property) => `${column(property)} = NULL`)
    .join(", ");

  // Only rows still failed are written, so a task that a concurrent requeue
  // already returned to a runner is left to it.
  const sql =
    `WITH requeued AS (UPDATE ${tableOf(manager, BatchJob)} ` +
    `SET ${column("status")} = $1, ${cleared} ` +
    `WHERE ${column("status")} = $2` +
    (ids === undefined ? "" : ` AND ${column("id")} = ANY($3::bigint[])`) +
    ` RETURNING ${column("id")} AS id) ` +
    "SELECT id FROM requeued ORDER BY id";
  const parameters: unknown[] = [TaskStatus.Pending, TaskStatus.Failed];
  if (ids !== undefined) parameters.push(ids);

  const rows: { id: string }[] = await manager.query(sql, parameters);
  return rows.map((row) => String(row.id));
}

async function forgetAttempts(
  manager: EntityManager,
  ids: readonly string[],
): Promise<void> {
  if (ids.length === 0) return;
  const taskId = columnOf(manager, BatchJobAttempt, "taskId");
  await manager.query(
    `DELETE FROM ${tableOf(manager, BatchJobAttempt)} ` +
      `WHERE ${taskId} = ANY($1::bigint[])`,
    [ids],
  );
}
