import { DataSource } from "typeorm";
import { MIGRATIONS_TABLE, TASK_SCHEMA } from "../ormconfig";

/** MigrationState is one migration and whether the database has it. */
export interface MigrationState {
  readonly name: string;
  readonly applied: boolean;
}

/**
 * migrate brings the task schema up to date and returns the names of the
 * migrations it applied. TypeORM creates its history table before the first
 * migration runs, and that table lives in the task schema, so the schema is
 * created first. Concurrent callers are serialised by an advisory lock.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  return withMigrationLock(dataSource, async () => {
    // Only a missing schema needs CREATE on the database: a role that owns
    // an existing schema can migrate without it.
    const [{ found }] = await dataSource.query(
      "SELECT to_regnamespace($1) AS found",
      [TASK_SCHEMA],
    );
    if (found === null) {
      await dataSource.query(`CREATE SCHEMA IF NOT EXISTS "${TASK_SCHEMA}"`);
    }
    const applied = await dataSource.runMigrations({ transaction: "each" });
    return applied.map((migration) => migration.name);
  });
}

/** revertLastMigration undoes the newest applied migration, if any. */
export async function revertLastMigration(
  dataSource: DataSource,
): Promise<void> {
  await withMigrationLock(dataSource, async () => {
    // Without a history there is nothing to undo, and TypeORM would try to
    // create the history table in a schema that does not exist.
    if (!(await historyExists(dataSource))) return;
    await dataSource.undoLastMigration({ transaction: "each" });
  });
}

/** listMigrations tells, for every known migration, whether it is applied. */
export async function listMigrations(
  dataSource: DataSource,
): Promise<MigrationState[]> {
  const applied = new Set<string>();
  if (await historyExists(dataSource)) {
    const rows: { name: string }[] = await dataSource.query(
      `SELECT name FROM "${TASK_SCHEMA}"."${MIGRATIONS_TABLE}"`,
    );
    for (const row of rows) applied.add(row.name);
  }
  return dataSource.migrations
    .map((migration) => migration.name ?? migration.constructor.name)
    .sort((a, b) => timestampOf(a) - timestampOf(b))
    .map((name) => ({ name, applied: applied.has(name) }));
}

async function historyExists(dataSource: DataSource): Promise<boolean> {
  const rows = await dataSource.query(
    "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2",
    [TASK_SCHEMA, MIGRATIONS_TABLE],
  );
  return rows.length > 0;
}

// Any fixed number works; it only has to differ from the application's own.
const MIGRATION_LOCK_KEY = 7_310_442_001;

async function withMigrationLock<T>(
  dataSource: DataSource,
  work: () => Promise<T>,
): Promise<T> {
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    return await work();
  } finally {
    await runner
      .query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY])
      .finally(() => runner.release());
  }
}

function timestampOf(name: string): number {
  const match = /(\d{13})$/.exec(name);
  return match === null ? 0 : Number(match[1]);
}
