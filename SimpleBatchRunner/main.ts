import "./inliningBudget";
import "reflect-metadata";
import { typeormSource } from "./startup/loadTypeorm";
import * as path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource } from "typeorm";
import {
  numberOption,
  parseCommandLine,
  runCommand,
  UsageError,
} from "../Contracts/commandLine";
import { describeError } from "../Contracts/errors";
import { createConsoleLogger, parseLogLevel } from "../Contracts/consoleLogger";
import { connect, requireTaskTable } from "../DataLayer/connect";
import { listenForQueued } from "../DataLayer/queueNotifications";
import { readDatabaseSettings } from "../ormconfig";
import type { Logger } from "../Contracts/Logger";
import { BatchRunner } from "./BatchRunner";
import type { RunnerMetrics } from "./metrics";
import { parseIsolation, validateRunnerOptions } from "./RunnerOptions";
import { taskRegistry } from "./tasks";

const USAGE = `Usage: npm run runner -- [options]

Claims pending tasks from blog.batchjob and runs them.

Options:
  --batch-size N          tasks claimed per round (default 1)
  --concurrency N         rounds in flight at once, each on its own
                          connection (default 1)
  --hold-ms N             pause before each commit, to watch progress
                          (default 0)
  --until-empty           exit once no task is pending, none waiting to
                          retry and none in another runner's hands
  --poll-ms N             wait between polls of an empty queue (default 1000)
  --id NAME               runner name in logs and reports (default host-pid)
  --task-timeout-ms N     a task's time limit unless its row sets timeoutms
                          (default 600000)
  --shutdown-grace-ms N   time tasks in hand get to finish after SIGTERM
                          (default 30000)
  --stall-timeout-ms N    idle time after which PostgreSQL ends a stalled
                          round and frees its tasks (default 60000)
  --retry-base-ms N       first retry delay, doubling per attempt (default 1000)
  --retry-max-ms N        longest retry delay (default 300000)
  --heartbeat-ms N        interval of the runner's heartbeat (default 5000)
  --isolation NAME        repeatable-read (default) or read-committed, to
                          measure what the snapshot costs
  --tasks PATH            also load the task modules at PATH (repeatable)
  --metrics-port N        serve Prometheus metrics at http://HOST:N/metrics
  --metrics-host HOST     address for the metrics (default 127.0.0.1; use
                          0.0.0.0 in a container)
  --help                  show this text

The database comes from DATABASE_URL or DB_ADDRESS, DB_PORT, DB_USER,
DB_PASSWORD (or DB_PASSWORD_FILE) and DB_NAME. LOG_LEVEL sets the log level.`;

/** How long a second signal waits for the attempts to be given back. */
const GIVE_BACK_LIMIT_MS = 1_000;

async function main(): Promise<number> {
  const args = parseCommandLine(process.argv.slice(2), {
    "batch-size": { type: "string" },
    concurrency: { type: "string" },
    "hold-ms": { type: "string" },
    "until-empty": { type: "boolean" },
    "poll-ms": { type: "string" },
    id: { type: "string" },
    "task-timeout-ms": { type: "string" },
    "shutdown-grace-ms": { type: "string" },
    "stall-timeout-ms": { type: "string" },
    "retry-base-ms": { type: "string" },
    "retry-max-ms": { type: "string" },
    "heartbeat-ms": { type: "string" },
    isolation: { type: "string" },
    tasks: { type: "string", multiple: true },
    "metrics-port": { type: "string" },
    "metrics-host": { type: "string" },
    help: { type: "boolean" },
  });
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const options = validateRunnerOptions({
    batchSize: numberOption("batch-size", args["batch-size"]),
    concurrency: numberOption("concurrency", args.concurrency),
    holdMs: numberOption("hold-ms", args["hold-ms"]),
    pollIntervalMs: numberOption("poll-ms", args["poll-ms"]),
    taskTimeoutMs: numberOption("task-timeout-ms", args["task-timeout-ms"]),
    shutdownGraceMs: numberOption(
      "shutdown-grace-ms",
      args["shutdown-grace-ms"],
    ),
    stallTimeoutMs: numberOption("stall-timeout-ms", args["stall-timeout-ms"]),
    retryBaseMs: numberOption("retry-base-ms", args["retry-base-ms"]),
    retryMaxMs: numberOption("retry-max-ms", args["retry-max-ms"]),
    heartbeatIntervalMs: numberOption("heartbeat-ms", args["heartbeat-ms"]),
    untilEmpty: args["until-empty"],
    runnerId: args.id,
    isolation: parseIsolation(args.isolation),
  });
  const log = createConsoleLogger({
    level: parseLogLevel(process.env.LOG_LEVEL),
  });
  // First, so that a supervisor stopping a runner that is still starting
  // gets a clean exit 0 rather than a death by signal.
  const shutdown = watchShutdownSignals(log);
  log.debug("Runner starting", { runnerId: options.runnerId, typeormSource });
  if (typeormSource.from === "node_modules" && typeormSource.stale) {
    // Only slower to start: the runner works the same either way.
    log.warn(`TypeORM loaded from node_modules: ${typeormSource.reason}`);
  }
  loadTaskModules(args.tasks ?? []);
  const settings = readDatabaseSettings();

  // Both at once: each connects and builds its metadata, start-up time.
  const [dataSource, sideDataSource] = await connectBoth(
    connect(settings, {
      // Status finds the runner's open round by this name.
      applicationName: `batch-runner:${options.runnerId}`.slice(0, 63),
      poolSize: options.concurrency,
      idleInTransactionTimeoutMs: options.stallTimeoutMs,
    }),
    connect(settings, {
      applicationName: `batch-runner-side:${options.runnerId}`.slice(0, 63),
      // Each lane's attempts and a heartbeat may be written at once.
      poolSize: options.concurrency + 1,
      asynchronousCommit: true,
    }),
  );
  try {
    await requireTaskTable(dataSource, settings);
    if (shutdown.requested) return 0;
    const metrics = await startMetrics(args, options.runnerId, log);
    const runner = new BatchRunner(
      {
        dataSource,
        sideDataSource,
        registry: taskRegistry,
        log,
        metrics,
        print: (line) => console.log(line),
      },
      options,
    );
    if (shutdown.requested) return 0;
    shutdown.onStop(() => void runner.stop());
    shutdown.onAbandon(() => runner.giveBackAttempts());
    const listener = options.untilEmpty
      ? undefined
      : listenForQueued(settings, () => runner.wake(), log);
    try {
      await runner.start();
    } finally {
      await listener?.close();
    }
  } finally {
    await Promise.all([dataSource.destroy(), sideDataSource.destroy()]);
  }
  return 0;
}

/**
 * connectBoth waits for two connections; when either fails, it closes the
 * other and throws the first failure.
 */
async function connectBoth(
  first: Promise<DataSource>,
  second: Promise<DataSource>,
): Promise<[DataSource, DataSource]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === "fulfilled" && b.status === "fulfilled") {
    return [a.value, b.value];
  }
  for (const opened of [a, b]) {
    if (opened.status === "fulfilled") await opened.value.destroy();
  }
  throw a.status === "rejected"
    ? a.reason
    : (b as PromiseRejectedResult).reason;
}

/**
 * startMetrics serves Prometheus metrics when --metrics-port is given.
 *
 * @throws {RangeError} for a port out of range.
 */
async function startMetrics(
  args: { "metrics-port"?: string; "metrics-host"?: string },
  runnerId: string,
  log: Logger,
): Promise<RunnerMetrics | undefined> {
  const port = numberOption("metrics-port", args["metrics-port"]);
  if (port === undefined) return undefined;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `Cannot start runner: --metrics-port must be a port, got ${port}`,
    );
  }
  const host = args["metrics-host"] ?? "127.0.0.1";
  // Loaded only when asked for: prom-client costs start-up time.
  const { createPrometheusMetrics, portOf, serveMetrics } =
    require("./prometheusMetrics") as typeof import("./prometheusMetrics");
  const metrics = createPrometheusMetrics(runnerId);
  const server = await serveMetrics(metrics.registry, host, port);
  log.info("Serving metrics", {
    url: `http://${host}:${portOf(server)}/metrics`,
  });
  return metrics;
}

/**
 * loadTaskModules imports modules named on the command line, whose task
 * decorators add them to the registry. Names read from the database are
 * never imported: they are only looked up in the registry.
 */
function loadTaskModules(paths: readonly string[]): void {
  for (const modulePath of paths) {
    const resolved = path.resolve(modulePath);
    try {
      require(resolved);
    } catch (error) {
      throw new UsageError(
        `Cannot load task module ${resolved}: ${describeError(error)}`,
      );
    }
  }
}

/**
 * watchShutdownSignals handles SIGTERM and SIGINT from the start. The first
 * one stops the runner once there is one: no more claims, the tasks in hand
 * finish within the grace period (then are aborted and given back), and the
 * runner exits 0. Before there is a runner it only marks the stop as
 * requested. A second signal gives the attempts of the tasks in hand back,
 * waiting at most GIVE_BACK_LIMIT_MS for the database, and exits with 130;
 * the database rolls the rounds back. A third exits at once.
 */
function watchShutdownSignals(log: Logger): {
  readonly requested: boolean;
  onStop(stop: () => void): void;
  onAbandon(giveBack: () => Promise<void>): void;
} {
  let requested = false;
  let abandoning = false;
  let stop: (() => void) | undefined;
  let giveBack: (() => Promise<void>) | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (abandoning) process.exit(130);
    if (requested) {
      abandoning = true;
      log.warn("Second signal, exiting without finishing the round", {
        signal,
      });
      const givenBack = (giveBack?.() ?? Promise.resolve()).catch(
        (error: unknown) =>
          log.error("Could not give the attempts back", {
            error: describeError(error),
          }),
      );
      const limit = sleep(GIVE_BACK_LIMIT_MS);
      void Promise.race([givenBack, limit]).then(() => process.exit(130));
      return;
    }
    requested = true;
    log.info("Stopping: no more claims, finishing the tasks in hand", {
      signal,
    });
    stop?.();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return {
    get requested() {
      return requested;
    },
    onStop(callback) {
      stop = callback;
    },
    onAbandon(callback) {
      giveBack = callback;
    },
  };
}

runCommand(main, USAGE);
