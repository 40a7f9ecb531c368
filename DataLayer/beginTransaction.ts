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
  if (!LEVELS.has(isolation)) {
    throw new TypeError(`Cannot begin a transaction at "${isolation}"`);
  }
  if (queryRunner.isTransactionActive) {
    throw new TypeError("Cannot begin a transaction: one is open already");
  }
  await queryRunner.query(`START TRANSACTION ISOLATION LEVEL ${isolation}`);
  const state = queryRunner as unknown as {
    isTransactionActive: boolean;
    transactionDepth: number;
  };
  state.isTransactionActive = true;
  state.transactionDepth = 1;
}
