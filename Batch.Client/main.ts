import "reflect-metadata";
import { parseCommandLine, runCommand } from "../Contracts/commandLine";
import { createConsoleLogger, parseLogLevel } from "../Contracts/consoleLogger";
import { connect } from "../DataLayer/connect";
import { migrate } from "../DataLayer/migrate";
import {
  loadSample,
  purchasingTablesExist,
} from "../DataLayer/sample/loadSample";
import { describeDatabase, readDatabaseSettings } from "../ormconfig";
import { taskRegistry } from "../SimpleBatchRunner/tasks";
import { followRun } from "./followRun";
import { queueVendorJob } from "./queueVendorJob";
import { formatRunReport, readRunReport } from "./runReport";

const USAGE = `Usage: npm run client -- [options]

Runs the migrations, empties the task table and queues one SummedSalesBatch
task per vendor in purchasing.vendor.

Options:
  --with-sample   first load the generated AdventureWorks sample when the
                  purchasing tables are absent
  --wait          follow the run with a progress bar until no task is
                  pending, then print the per-vendor report
  --help          show this text

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME.`;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    "with-sample": { type: "boolean" },
    wait: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const log = createConsoleLogger({
    level: parseLogLevel(process.env.LOG_LEVEL),
  });
  const settings = readDatabaseSettings();
  const dataSource = await connect(settings, {
    applicationName: "batch-client",
  });
  try {
    console.log(`Database: ${describeDatabase(settings)}`);
    for (const name of await migrate(dataSource))
      console.log(`Applied migration ${name}`);

    if (args["with-sample"] && !(await purchasingTablesExist(dataSource))) {
      const loaded = await loadSample(
        dataSource,
        { kind: "generated", seed: 1, scale: 1 },
        log,
      );
      console.log(`Loaded the generated sample: ${JSON.stringify(loaded)}`);
    }

    const queued = await queueVendorJob(dataSource, taskRegistry);
    console.log(`Queued ${queued} tasks.`);
    if (!args.wait) return 0;

    const counts = await followRun(dataSource, { out: process.stdout });
    console.log(formatRunReport(await readRunReport(dataSource)));
    return counts.failed > 0 ? 1 : 0;
  } finally {
    await dataSource.destroy();
  }
}

runCommand(main, USAGE);
