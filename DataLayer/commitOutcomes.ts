import { type ClientBase, escapeLiteral } from "pg";
import type { EntityManager, QueryRunner } from "typeorm";
import { TASK_SCHEMA } from "../ormconfig";
import { arrayConstant } from "./arrayConstant";
import { closeTransaction, markTransactionClosed } from "./beginTransaction";
import { ClaimLostError } from "./ClaimLostError";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { COMMITTED_TAG, sendStatements } from "./sendStatements";
import { SqlState, sqlStateOf } from "./sqlState";
import { TaskStatus } from "./TaskStatus";

/**
 * The function, created by a migration, that fails a round's commit when
 * fewer rows were written than the round holds.
 */
const REQUIRE_HELD_ROWS = `"${TASK_SCHEMA}"."require_held_rows"`;

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
 * commitOutcomes writes the outcomes of a round's held tasks and commits
 * the round, in one round trip: the update, a check that every row was
 * there, and COMMIT. The round's transaction holds those rows locked, so
 * no other transaction can change or remove them before it ends; a row
 * missing all the same fails the check, which leaves the transaction
 * failed, uncommitted, for the caller to roll back.
 *
 * @throws {ClaimLostError} when a row is missing: the claim was lost, an
 *   error of the runner, not of the task.
 * @throws {TypeError} when a transaction that a task opened inside the
 *   round is still open.
 */
export async function commitOutcomes(
  queryRunner: QueryRunner,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): Promise<void> {
  const commit = new RoundCommit(queryRunner, runnerId, outcomes);
  const client = (await queryRunner.connect()) as ClientBase;
  const completedTags: string[] = [];
  try {
    await sendStatements(commit.statements.join("; "), client, completedTags);
  } catch (error) {
    throw commit.failed(error, completedTags);
  }
  commit.succeeded();
  markTransactionClosed(queryRunner);
}

/**
 * RoundCommit is a round's outcomes and its COMMIT as statements, to send
 * first in a query, alone or with more after them in the same round trip:
 * the next round's claim, on the same connection. Once that query has
 * ended, the sender tells the commit how, and the commit then knows
 * whether it ran, which a failure of a later statement does not undo.
 */
export class RoundCommit {
  readonly statements: readonly string[];
  private ran: boolean | undefined;

  /**
   * @throws {TypeError} when a transaction that a task opened inside the
   *   round is still open.
   */
  constructor(
    queryRunner: QueryRunner,
    runnerId: string,
    private readonly outcomes: readonly TaskOutcome[],
  ) {
    const commit = closeTransaction(queryRunner);
    this.statements =
      outcomes.length === 0
        ? [commit]
        : [recordEveryOutcome(queryRunner.manager, runnerId, outcomes), commit];
  }

  /** Whether the COMMIT ran; undefined until the query ended. */
  get committed(): boolean | undefined {
    return this.ran;
  }

  /** succeeded records that the query ran to its end. */
  succeeded(): void {
    this.ran = true;
  }

  /**
   * failed records that the query ended in `error`, after the statements
   * whose command tags the server completed, and gives the error to throw:
   * a ClaimLostError when a held row was missing, else `error` itself.
   */
  failed(error: unknown, completedTags: readonly string[]): unknown {
    // The COMMIT is the last of the statements, and the query's first ones.
    this.ran = completedTags[this.statements.length - 1] === COMMITTED_TAG;
    if (this.ran || sqlStateOf(error) !== SqlState.ClaimLost) return error;
    const recorded = Number((error as { detail?: string }).detail);
    return new ClaimLostError(
      this.outcomes.map((outcome) => outcome.id),
      recorded,
      { cause: error },
    );
  }
}

/**
 * recordEveryOutcome runs outcomeUpdate and passes the count of rows it
 * updated to require_held_rows, which raises SqlState.ClaimLost, with
 * that count as its detail, when it falls short of the outcomes.
 */
function recordEveryOutcome(
  manager: EntityManager,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): string {
  return (
    `WITH recorded AS (${outcomeUpdate(manager, runnerId, outcomes)} RETURNING 1) ` +
    `SELECT ${REQUIRE_HELD_ROWS}(count(*), ${outcomes.length}) FROM recorded`
  );
}

/**
 * outcomeUpdate is the statement that writes `outcomes` onto their rows,
 * its values written in as constants quoted by the driver.
 */
export function outcomeUpdate(
  manager: EntityManager,
  runnerId: string,
  outcomes: readonly TaskOutcome[],
): string {
  const column = (property: keyof BatchJob & string) =>
    columnOf(manager, BatchJob, property);
  const ids = arrayConstant(
    outcomes.map((outcome) => outcome.id),
    "bigint",
  );
  // Times travel as epoch milliseconds: formatting thousands of dates as
  // text each round cost more than the statement.
  const epochMs = (times: (Date | null)[]) =>
    arrayConstant(
      times.map((time) => time?.getTime() ?? null),
      "bigint",
    );
  const columns = [
    ids,
    arrayConstant(
      outcomes.map((outcome) => outcome.status),
      "int",
    ),
    epochMs(outcomes.map((outcome) => outcome.startedAt)),
    epochMs(outcomes.map((outcome) => outcome.stoppedAt)),
    arrayConstant(
      outcomes.map((outcome) => outcome.error),
      "text",
    ),
    epochMs(outcomes.map((outcome) => outcome.notBefore)),
  ];
  return (
    `UPDATE ${tableOf(manager, BatchJob)} AS job SET ` +
    `${column("status")} = outcome.status, ` +
    `${column("runnerId")} = ${escapeLiteral(runnerId)}, ` +
    `${column("startedAt")} = ${fromEpochMs("outcome.startedat")}, ` +
    `${column("stoppedAt")} = ${fromEpochMs("outcome.stoppedat")}, ` +
    `${column("lastError")} = outcome.lasterror, ` +
    `${column("notBefore")} = ${fromEpochMs("outcome.notbefore")} ` +
    `FROM unnest(${columns.join(", ")}) ` +
    "AS outcome(id, status, startedat, stoppedat, lasterror, notbefore) " +
    // By key alone, and looked up by key: the list of ids is what the
    // planner can count exactly. Statistics lag the queue, so a check that
    // each row is still pending (which the claim's locks make certain)
    // left it guessing how many rows pass, and a guess of one made it hash
    // a whole index of pending tasks, or scan the table once per outcome.
    `WHERE job.${column("id")} = outcome.id ` +
    `AND job.${column("id")} = ANY(${ids})`
  );
}

function fromEpochMs(column: string): string {
  return `timestamptz 'epoch' + ${column} * interval '1 millisecond'`;
}
