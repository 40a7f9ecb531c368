import type { DataSource } from "typeorm";
import { BatchError, describeError } from "../Contracts/errors";
import {
  ConnectionOptions,
  createDataSource,
  DatabaseSettings,
  describeDatabase,
  TASK_SCHEMA,
} from "../ormconfig";
import { BatchJob } from "./entities/BatchJob";

/** DatabaseUnavailableError: the configured database cannot be reached. */
export class DatabaseUnavailableError extends BatchError {
  constructor(
    readonly settings: DatabaseSettings,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot connect to PostgreSQL at ${describeDatabase(settings)}: ${reason}`,
      options,
    );
  }
}

/**
 * SchemaMissingError: the task table, or an object that a later migration
 * adds beside it, does not exist in this database.
 */
export class SchemaMissingError extends BatchError {
  constructor(
    readonly settings: DatabaseSettings,
    readonly missing: string,
  ) {
    super(
      `Cannot use the task table: ${missing} does not exist at ` +
        `${describeDatabase(settings)}; run npm run migration:run first`,
    );
  }
}

/**
 * connect opens a DataSource on the configured database.
 *
 * @throws {DatabaseUnavailableError} naming host, port, database and the
 *   driver's reason when the connection fails.
 */
export async function connect(
  settings: DatabaseSettings,
  options: ConnectionOptions = {},
): Promise<DataSource> {
  const dataSource = createDataSource(settings, options);
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new DatabaseUnavailableError(settings, describeError(error), {
      cause: error,
    });
  }
  return dataSource;
}

/**
 * requireTaskTable checks that migrations have created the task table and
 * the function that a round's commit calls, so that a database migrated
 * by an older release is named at start-up, not by every round's failure.
 *
 * @throws {SchemaMissingError} when they have not.
 */
export async function requireTaskTable(
  dataSource: DataSource,
  settings: DatabaseSettings,
): Promise<void> {
  const table = dataSource.getMetadata(BatchJob).tablePath;
  const check = `${TASK_SCHEMA}.require_held_rows(bigint, bigint)`;
  const [row] = await dataSource.query(
    "SELECT to_regclass($1) AS tablefound, to_regprocedure($2) AS checkfound",
    [table, check],
  );
  if (row?.tablefound === null) throw new SchemaMissingError(settings, table);
  if (row?.checkfound === null) throw new SchemaMissingError(settings, check);
}
