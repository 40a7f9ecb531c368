import type { QueryRunner } from "typeorm";

/** The isolation levels PostgreSQL runs transactions at. */
export type IsolationLevel =
  "READ COMMITTED" | "REPEATABLE READ" | "SERIALIZABLE";

const LEVELS: ReadonlySet<string> = new Set<IsolationLevel>([
  "READ COMMITTED",
  "REPEATABLE READ",
  "SERIALIZABLE",
]);

/**
 * beginTransaction opens a transaction at `isolation` in one round trip,
 * where TypeORM's startTransaction takes two (START TRANSACTION, then SET
 * TRANSACTION). It then marks the query runner as TypeORM itself does, so
 * that commitTransaction and rollbackTransaction end it, and a transaction
 * that a task opens inside becomes a savepoint.
 *
 * @throws {TypeError} for a level PostgreSQL does not know, or when a
 *   transaction is open already.
 */
export async function beginTransaction(
  queryRunner: QueryRunner,
  isolation: IsolationLevel,
): Promise<void> {
  const statement = openTransaction(queryRunner, isolation);
  try {
    await queryRunner.query(statement);
  } catch (error) {
    markTransactionClosed(queryRunner);
    throw error;
  }
}

/**
 * openTransaction marks the query runner as in a transaction at
 * `isolation` and gives the statement that opens it, for callers that send
 * it in one query with their first statement. When that query fails, the
 * caller rolls back as after any failed statement; where the transaction
 * never opened, the rollback only draws a warning from the server.
 *
 * @throws {TypeError} for a level PostgreSQL does not know, or when a
 *   transaction is open already.
 */
export function openTransaction(
  queryRunner: QueryRunner,
  isolation: IsolationLevel,
): string {
  if (!LEVELS.has(isolation)) {
    throw new TypeError(`Cannot begin a transaction at "${isolation}"`);
  }
  if (queryRunner.isTransactionActive) {
    throw new TypeError("Cannot begin a transaction: one is open already");
  }
  const state = queryRunner as unknown as TransactionState;
  state.isTransactionActive = true;
  state.transactionDepth = 1;
  return `START TRANSACTION ISOLATION LEVEL ${isolation}`;
}

/** The flags TypeORM keeps on a query runner for its transaction. */
interface TransactionState {
  isTransactionActive: boolean;
  transactionDepth: number;
}

/**
 * closeTransaction gives the statement that commits the query runner's
 * transaction, for callers that send it in one query with their last
 * statements; once that query succeeds, they call markTransactionClosed.
 *
 * @throws {TypeError} when a transaction opened inside this one, which
 *   TypeORM keeps as a savepoint, is still open.
 */
export function closeTransaction(queryRunner: QueryRunner): string {
  const state = queryRunner as unknown as TransactionState;
  if (state.transactionDepth > 1) {
    throw new TypeError(
      "Cannot commit: a transaction opened inside this one is still open",
    );
  }
  return "COMMIT";
}

/**
 * markTransactionClosed marks the query runner as out of its transaction,
 * as TypeORM does when it commits or rolls back, for callers that end the
 * transaction in a query of their own.
 */
export function markTransactionClosed(queryRunner: QueryRunner): void {
  const state = queryRunner as unknown as TransactionState;
  state.isTransactionActive = false;
  state.transactionDepth = 0;
}
