import "reflect-metadata";
import type { DataSource } from "typeorm";
import { parseCommandLine, runCommand } from "../Contracts/commandLine";
import { connect, requireTaskTable } from "../DataLayer/connect";
import { readStatus } from "../DataLayer/readStatus";
import { readDatabaseSettings } from "../ormconfig";
import { formatStatus } from "./formatStatus";
import { pauseBeforeNextRead, timed } from "./pollPacing";

const USAGE = `Usage: npm run status -- [options]

Shows the queue at a glance: tasks by state, how long the oldest due task
has waited, tasks ended per second over the last minute, the live runners
with the tasks each holds, and the latest failures.

Options:
  --json     print JSON instead of text (with --watch, one line each time)
  --watch    redraw every second until Ctrl-C
  --help     show this text

In-progress tasks and live runners are read from pg_stat_activity, so the
database role needs pg_read_all_stats to see the runners' transactions.

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME.`;

const OPTIONS = {
  json: { type: "boolean" },
  watch: { type: "boolean" },
  help: { type: "boolean" },
} as const;

const WATCH_INTERVAL_MS = 1_000;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), OPTIONS);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const json = args.json === true;

  const settings = readDatabaseSettings();
  const dataSource = await connect(settings, {
    applicationName: "batch-status",
    poolSize: 1,
  });
  try {
    await requireTaskTable(dataSource, settings);
    if (args.watch) await watch(dataSource, json);
    else await show(dataSource, json);
    return 0;
  } finally {
    await dataSource.destroy();
  }
}

async function show(dataSource: DataSource, json: boolean): Promise<void> {
  const status = await readStatus(dataSource);
  console.log(json ? JSON.stringify(status, null, 2) : formatStatus(status));
}

/**
 * watch redraws the status every second, or less often over a queue so
 * long that reading it takes over a ninth of that, until SIGINT or
 * SIGTERM; the signal ends the wait, so the command exits at once and
 * cleanly.
 */
async function watch(dataSource: DataSource, json: boolean): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    while (!stop.signal.aborted) {
      const { value: status, ms: readMs } = await timed(() =>
        readStatus(dataSource),
      );
      if (json) console.log(JSON.stringify(status));
      else draw(formatStatus(status));
      await pauseBeforeNextRead(WATCH_INTERVAL_MS, readMs, stop.signal);
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** draw replaces the screen on a terminal, and appends a block elsewhere. */
function draw(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\x1b[H\x1b[2J${text}\n`);
  else process.stdout.write(`${text}\n\n`);
}

runCommand(main, USAGE);
