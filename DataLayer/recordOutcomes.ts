import type { EntityManager } from "typeorm";
import { ClaimLostError } from "./ClaimLostError";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { TaskStatus } from "./TaskStatus";

/**
 * TaskOutcome is how one held task ended this round: done, failed for
 * good, or back to pending to be retried after `notBefore`.
 */
export interface TaskOutcome {
  readonly id: string;
  readonly status: TaskStatus;
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  /** Why it failed: kept in `lasterror`; null for a task done. */
  readonly error: string | null;
  /** When a retried task becomes due again; null otherwise. */
  readonly notBefore: Date | null;
}

/**
 * recordOutcomes writes the outcomes of a round's held tasks in one
 * statement, in the transaction whose row locks hold them: no other
 * transaction can change or remove those rows before it ends.
 *
 * @throws {ClaimLostError} when a row is missing all the same, which means
 *   the claim was lost: an error of the runner, not of the task.
 */
export async function recordOutcomes(
  manager: EntityManager,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): Promise<void> {
  if (outcomes.length === 0) return;
  const column = (property: keyof BatchJob & string) =>
    columnOf(manager, BatchJob, property);

  const sql =
    `UPDATE ${tableOf(manager, BatchJob)} AS job SET ` +
    `${column("status")} = outcome.status, ` +
    `${column("runnerId")} = $1, ` +
    `${column("startedAt")} = timestamptz 'epoch' + outcome.startedat * interval '1 millisecond', ` +
    `${column("stoppedAt")} = timestamptz 'epoch' + outcome.stoppedat * interval '1 millisecond', ` +
    `${column("lastError")} = outcome.lasterror, ` +
    `${column("notBefore")} = timestamptz 'epoch' + outcome.notbefore * interval '1 millisecond' ` +
    // Times travel as epoch milliseconds: formatting thousands of dates
    // as text each round cost more than the statement.
    "FROM unnest($2::bigint[], $3::int[], $4::bigint[], " +
    "$5::bigint[], $6::text[], $7::bigint[]) " +
    "AS outcome(id, status, startedat, stoppedat, lasterror, notbefore) " +
    // By key alone, and looked up by key: the list of ids is what the
    // planner can count exactly. Statistics lag the queue, so a check that
    // each row is still pending (which the claim's locks make certain)
    // left it guessing how many rows pass, and a guess of one made it hash
    // the whole pending index, or scan the table once per outcome.
    `WHERE job.${column("id")} = outcome.id ` +
    `AND job.${column("id")} = ANY($2::bigint[])`;
  const [, affected] = (await manager.query(sql, [
    runnerId,
    outcomes.map((outcome) => outcome.id),
    outcomes.map((outcome) => outcome.status),
    outcomes.map((outcome) => outcome.startedAt.getTime()),
    outcomes.map((outcome) => outcome.stoppedAt.getTime()),
    outcomes.map((outcome) => outcome.error),
    outcomes.map((outcome) => outcome.notBefore?.getTime() ?? null),
  ])) as [unknown, number];

  if (affected !== outcomes.length) {
    throw new ClaimLostError(
      outcomes.map((outcome) => outcome.id),
      affected,
    );
  }
}
