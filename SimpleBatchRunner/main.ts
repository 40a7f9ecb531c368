import "reflect-metadata";
import {
  numberOption,
  parseCommandLine,
  runCommand,
} from "../Contracts/commandLine";
import { createConsoleLogger, parseLogLevel } from "../Contracts/consoleLogger";
import { connect, requireTaskTable } from "../DataLayer/connect";
import { readDatabaseSettings } from "../ormconfig";
import { BatchRunner } from "./BatchRunner";
import { validateRunnerOptions } from "./RunnerOptions";
import { taskRegistry } from "./tasks";

const USAGE = `Usage: npm run runner -- [options]

Claims pending tasks from blog.batchjob and runs them.

Options:
  --batch-size N     tasks claimed per round (default 1)
  --hold-ms N        pause before each commit, to watch progress (default 0)
  --until-empty      exit when a round finds no pending task
  --poll-ms N        wait between polls of an empty queue (default 1000)
  --id NAME          runner name in logs and reports (default host-pid)
  --help             show this text

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME. LOG_LEVEL sets the log level.`;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    "batch-size": { type: "string" },
    "hold-ms": { type: "string" },
    "until-empty": { type: "boolean" },
    "poll-ms": { type: "string" },
    id: { type: "string" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const options = validateRunnerOptions({
    batchSize: numberOption("batch-size", args["batch-size"]),
    holdMs: numberOption("hold-ms", args["hold-ms"]),
    pollIntervalMs: numberOption("poll-ms", args["poll-ms"]),
    untilEmpty: args["until-empty"],
    runnerId: args.id,
  });
  const log = createConsoleLogger({ level: parseLogLevel(process.env.LOG_LEVEL) });
  const settings = readDatabaseSettings();

  const dataSource = await connect(settings, {
    applicationName: `batch-runner:${options.runnerId}`.slice(0, 63),
    poolSize: 2,
  });
  try {
    await requireTaskTable(dataSource, settings);
    const runner = new BatchRunner(
      {
        dataSource,
        registry: taskRegistry,
        log,
        print: (line) => console.log(line),
      },
      options,
    );
    stopOnSignals(runner, log);
    await runner.start();
  } finally {
    await dataSource.destroy();
  }
  return 0;
}

/**
 * The first SIGTERM or SIGINT lets the round in hand commit, then exits 0;
 * a second one exits at once, and the database rolls the round back.
 */
function stopOnSignals(runner: BatchRunner, log: ReturnType<typeof createConsoleLogger>) {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn("Second signal, exiting without finishing the round", { signal });
      process.exit(130);
    }
    signalled = true;
    log.info("Stopping after the round in hand", { signal });
    void runner.stop();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}

runCommand(main, USAGE);
