import type { EntityManager } from "typeorm";
import { ClaimLostError } from "./ClaimLostError";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { TaskStatus } from "./TaskStatus";

/** TaskOutcome is when a held task ran, and for a failure, why it failed. */
export interface TaskOutcome {
  readonly id: string;
  readonly startedAt: Date;
  readonly stoppedAt: Date;
  /** Set for a failed task: the text kept in `lasterror`. */
  readonly error?: string;
}

/**
 * completeTasks marks held tasks done, in one statement.
 *
 * @throws {ClaimLostError} when any of them is no longer pending.
 */
export function completeTasks(
  manager: EntityManager,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): Promise<void> {
  return recordOutcomes(manager, runnerId, TaskStatus.Done, outcomes);
}

/**
 * failTasks marks held tasks failed with their error text, in one statement.
 *
 * @throws {ClaimLostError} when any of them is no longer pending.
 */
export function failTasks(
  manager: EntityManager,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): Promise<void> {
  return recordOutcomes(manager, runnerId, TaskStatus.Failed, outcomes);
}

async function recordOutcomes(
  manager: EntityManager,
  runnerId: string,
  status: TaskStatus,
  outcomes: readonly TaskOutcome[],
): Promise<void> {
  if (outcomes.length === 0) return;
  const column = (property: keyof BatchJob & string) =>
    columnOf(manager, BatchJob, property);

  // Only rows still pending are written: a row that is not means the claim
  // was lost, and the affected count says so.
  const sql =
    `UPDATE ${tableOf(manager, BatchJob)} AS job SET ` +
    `${column("status")} = $1, ${column("runnerId")} = $2, ` +
    `${column("startedAt")} = outcome.startedat, ` +
    `${column("stoppedAt")} = outcome.stoppedat, ` +
    `${column("lastError")} = outcome.lasterror ` +
    "FROM unnest($3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::text[]) " +
    "AS outcome(id, startedat, stoppedat, lasterror) " +
    `WHERE job.${column("id")} = outcome.id AND job.${column("status")} = $7`;
  const [, affected] = (await manager.query(sql, [
    status,
    runnerId,
    outcomes.map((outcome) => outcome.id),
    outcomes.map((outcome) => outcome.startedAt),
    outcomes.map((outcome) => outcome.stoppedAt),
    outcomes.map((outcome) => outcome.error ?? null),
    TaskStatus.Pending,
  ])) as [unknown, number];

  if (affected !== outcomes.length) {
    throw new ClaimLostError(outcomes.map((outcome) => outcome.id), affected);
  }
}
