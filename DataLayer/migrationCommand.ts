import "reflect-metadata";
import { runCommand, UsageError } from "../Contracts/commandLine";
import { describeDatabase, readDatabaseSettings } from "../ormconfig";
import { connect } from "./connect";
import { listMigrations, migrate, revertLastMigration } from "./migrate";

const USAGE = `Usage: npm run migration:run | migration:revert | migration:show

  run      apply every pending migration to the task schema (blog)
  revert   undo the newest applied migration
  show     list the migrations, [X] applied, [ ] pending

The database comes from DATABASE_URL or the DB_* variables.`;

async function main(): Promise<number> {
  const action = process.argv[2];
  if (action !== "run" && action !== "revert" && action !== "show") {
    throw new UsageError(`Unknown migration action "${action ?? ""}"`);
  }
  const settings = readDatabaseSettings();
  const dataSource = await connect(settings, {
    applicationName: "batch-migrations",
  });
  try {
    console.log(`Database: ${describeDatabase(settings)}`);
    if (action === "run") {
      const applied = await migrate(dataSource);
      if (applied.length === 0) console.log("No pending migrations.");
      for (const name of applied) console.log(`Applied ${name}`);
    } else if (action === "revert") {
      const before = await listMigrations(dataSource);
      await revertLastMigration(dataSource);
      const reverted = before.filter((m) => m.applied).pop();
      console.log(
        reverted ? `Reverted ${reverted.name}` : "No migration to revert.",
      );
    } else {
      for (const migration of await listMigrations(dataSource)) {
        console.log(`[${migration.applied ? "X" : " "}] ${migration.name}`);
      }
    }
  } finally {
    await dataSource.destroy();
  }
  return 0;
}

runCommand(main, USAGE);
