import { escapeLiteral } from "pg";
import type { DataSource } from "typeorm";
import { arrayConstant } from "./arrayConstant";
import { BatchJobAttempt } from "./entities/BatchJobAttempt";
import { tableOf } from "./identifiers";

/**
 * countAttempts adds one attempt to each claimed task and returns the
 * attempts so far, this one included, of the tasks claimed before: a task
 * missing from the map is on its first attempt. Most tasks are, so the
 * server sends back a row only for the few that are not. It runs on a
 * connection of its own and commits at once, outside the round's
 * transaction: a runner killed mid-task loses the round's writes, but the
 * attempt stays spent, so a task that kills every runner that takes it
 * ends up failed, not redelivered forever.
 */
export async function countAttempts(
  dataSource: DataSource,
  runnerId: string,
  taskIds: readonly string[],
): Promise<Map<string, number>> {
  const table = tableOf(dataSource.manager, BatchJobAttempt);
  const rows: { taskid: string; attempts: number }[] = await dataSource.query(
    `WITH counted AS (
       INSERT INTO ${table} AS attempt (taskid, attempts, runnerid, claimedat)
       SELECT id, 1, ${escapeLiteral(runnerId)}, now()
       FROM unnest(${arrayConstant(taskIds, "bigint")}) AS claimed(id)
       ON CONFLICT (taskid) DO UPDATE SET
         attempts = attempt.attempts + 1,
         runnerid = excluded.runnerid,
         claimedat = excluded.claimedat
       RETURNING taskid, attempts)
     SELECT taskid, attempts FROM counted WHERE attempts > 1`,
  );
  return new Map(rows.map((row) => [String(row.taskid), row.attempts]));
}

/**
 * refundAttempts gives back the attempt of tasks that a runner returned to
 * the queue unfinished because it was shutting down: being stopped is not
 * the task's fault.
 */
export async function refundAttempts(
  dataSource: DataSource,
  taskIds: readonly string[],
): Promise<void> {
  const table = tableOf(dataSource.manager, BatchJobAttempt);
  await dataSource.query(
    `UPDATE ${table} SET attempts = greatest(attempts - 1, 0)
     WHERE taskid = ANY($1::bigint[])`,
    [taskIds],
  );
}
