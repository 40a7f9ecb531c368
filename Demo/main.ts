import "reflect-metadata";
import { verifyVendorJob } from "../Batch.Client/verifyVendorJob";
import { followRun, formatDuration } from "../Batch.Client/followRun";
import { queueVendorJob } from "../Batch.Client/queueVendorJob";
import { formatRunReport, readRunReport } from "../Batch.Client/runReport";
import {
  numberOption,
  parseCommandLine,
  runCommand,
} from "../Contracts/commandLine";
import { createConsoleLogger } from "../Contracts/consoleLogger";
import { connect } from "../DataLayer/connect";
import {
  defaultDataDir,
  EmbeddedDatabase,
} from "../DataLayer/embedded/EmbeddedDatabase";
import { migrate } from "../DataLayer/migrate";
import {
  loadSample,
  purchasingTablesExist,
} from "../DataLayer/sample/loadSample";
import {
  DatabaseSettings,
  describeDatabase,
  isDatabaseConfigured,
  readDatabaseSettings,
} from "../ormconfig";
import { validateRunnerOptions } from "../SimpleBatchRunner/RunnerOptions";
import { taskRegistry } from "../SimpleBatchRunner/tasks";
import { startRunnerProcesses } from "./runnerProcesses";
import { findCheckoutRoot } from "./checkoutRoot";

const USAGE = `Usage: npm run demo -- [options]

Runs the vendor job end to end: starts an embedded PostgreSQL unless a
database is configured, migrates, loads the AdventureWorks sample when it is
absent, queues one task per vendor, starts runner processes, follows them,
prints the report and checks it against one SQL aggregate.

Options:
  --runners N       runner processes to start (default 20)
  --hold-ms N       each runner's pause before commit (default 250)
  --batch-size N    tasks per round (default 1)
  --sample-dir DIR  load the official AdventureWorks files from DIR instead
                    of the generated sample
  --scale F         size of the generated sample (default 1)
  --help            show this text`;

const DATABASE_NAME = "Adventureworks";

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    runners: { type: "string" },
    "hold-ms": { type: "string" },
    "batch-size": { type: "string" },
    "sample-dir": { type: "string" },
    scale: { type: "string" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const runners = numberOption("runners", args.runners) ?? 20;
  if (!Number.isInteger(runners) || runners < 1 || runners > 200) {
    throw new RangeError(
      `Cannot start the demo: --runners must be from 1 to 200, got ${runners}`,
    );
  }
  const runnerOptions = validateRunnerOptions({
    holdMs: numberOption("hold-ms", args["hold-ms"]) ?? 250,
    batchSize: numberOption("batch-size", args["batch-size"]),
    untilEmpty: true,
  });
  const scale = numberOption("scale", args.scale) ?? 1;
  const root = findCheckoutRoot(__dirname);

  const embedded = isDatabaseConfigured()
    ? undefined
    : await startEmbedded(root);
  const stopEmbedded = () => embedded?.stop();
  process.once(
    "SIGINT",
    () => void stopEmbedded()?.finally(() => process.exit(130)),
  );
  try {
    const url = embedded?.urlFor(DATABASE_NAME);
    const settings = readDatabaseSettings(
      url ? { DATABASE_URL: url } : process.env,
    );
    return await runDemo(root, settings, {
      runners,
      runnerArgs: [
        "--until-empty",
        "--hold-ms",
        String(runnerOptions.holdMs),
        "--batch-size",
        String(runnerOptions.batchSize),
      ],
      sampleDir: args["sample-dir"],
      scale,
    });
  } finally {
    await stopEmbedded();
  }
}

interface DemoPlan {
  readonly runners: number;
  readonly runnerArgs: readonly string[];
  readonly sampleDir: string | undefined;
  readonly scale: number;
}

async function runDemo(
  root: string,
  settings: DatabaseSettings,
  plan: DemoPlan,
): Promise<number> {
  const log = createConsoleLogger({ level: "warn" });
  const dataSource = await connect(settings, { applicationName: "batch-demo" });
  try {
    console.log(`Database: ${describeDatabase(settings)}`);
    await migrate(dataSource);
    await loadSampleIfAbsent(dataSource, plan, log);
    const queued = await queueVendorJob(dataSource, taskRegistry);
    console.log(`Queued ${queued} tasks; starting ${plan.runners} runners.`);

    const started = Date.now();
    const { exited } = startRunnerProcesses({
      count: plan.runners,
      args: plan.runnerArgs,
      env: { ...runnerEnvironment(settings), LOG_LEVEL: "warn" },
      root,
      onLine: (runnerId, line) => {
        const clear = process.stdout.isTTY ? "\r\x1b[K" : "";
        process.stdout.write(`${clear}[${runnerId}] ${line}\n`);
      },
    });
    await followRun(dataSource, { out: process.stdout, until: exited });
    const exits = await exited;
    const wall = Date.now() - started;

    console.log(`\n${formatRunReport(await readRunReport(dataSource))}`);
    const crashed = exits.filter((exit) => exit.code !== 0);
    for (const exit of crashed) {
      console.log(
        `Runner ${exit.runnerId} exited with ${exit.signal ?? `code ${exit.code}`}`,
      );
    }
    const check = await verifyVendorJob(dataSource);
    console.log(
      `Checked against one SQL aggregate: ${check.matching} of ${check.vendors} vendors match. ` +
        `Runners took ${formatDuration(wall)}.`,
    );
    for (const problem of check.problems) console.log(`  ${problem}`);
    return check.problems.length === 0 && crashed.length === 0 ? 0 : 1;
  } finally {
    await dataSource.destroy();
  }
}

async function loadSampleIfAbsent(
  dataSource: Awaited<ReturnType<typeof connect>>,
  plan: DemoPlan,
  log: ReturnType<typeof createConsoleLogger>,
): Promise<void> {
  if (await purchasingTablesExist(dataSource)) {
    console.log("Using the purchasing tables already in the database.");
    return;
  }
  const source = plan.sampleDir
    ? { kind: "folder" as const, dir: plan.sampleDir }
    : { kind: "generated" as const, seed: 1, scale: plan.scale };
  const loaded = await loadSample(dataSource, source, log);
  console.log(`Loaded sample data: ${JSON.stringify(loaded)}`);
}

async function startEmbedded(root: string): Promise<EmbeddedDatabase> {
  const dataDir = defaultDataDir(root);
  console.log(
    `No database configured: starting embedded PostgreSQL in ${dataDir}`,
  );
  const database = await EmbeddedDatabase.start({ dataDir });
  await database.createDatabase(DATABASE_NAME);
  return database;
}

/** The runners get the demo's database and nothing else of its settings. */
function runnerEnvironment(settings: DatabaseSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (settings.url !== undefined) env.DATABASE_URL = settings.url;
  return env;
}

runCommand(main, USAGE);
