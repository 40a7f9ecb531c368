import * as fs from "node:fs";
import * as path from "node:path";
import type { DataSource } from "typeorm";
import { connect } from "../../DataLayer/connect";
import { DATABASE_VARIABLES, readDatabaseSettings } from "../../ormconfig";
import {
  ChaosPlan,
  ChaosPlanInput,
  poisonTotal,
  Random,
  seededRandom,
  validateChaosPlan,
} from "./chaosPlan";
import { ChaosCheck, ChaosTally, checkChaosRun } from "./checkChaosRun";
import {
  DrainDependencies,
  DrainResult,
  drainUnderChaos,
} from "./drainUnderChaos";
import {
  ChaosKind,
  prepareChaosDatabase,
  queueChaosTasks,
} from "./queueChaosTasks";
import { FleetStats, RunnerExitRecord, RunnerFleet } from "./RunnerFleet";

/** ChaosDependencies are where a chaos run works and reports. */
export interface ChaosDependencies {
  /** The database, as postgres://user:password@host:port/database. */
  readonly url: string;
  /**
   * Restarts the database, same address; give it only for a server of
   * your own, such as an embedded one. Required when the plan restarts.
   */
  readonly restartDatabase?: () => Promise<void>;
  /** Receives progress lines. */
  readonly out: NodeJS.WritableStream;
  /** The checkout, holding the compiled dist/. */
  readonly root: string;
  /** Receives every line the runners log, with the runner's name. */
  readonly onRunnerLog?: (runnerId: string, line: string) => void;
}

/** ChaosReport is what a chaos run did and whether everything held. */
export interface ChaosReport {
  /** True when every check holds. */
  readonly ok: boolean;
  readonly plan: ChaosPlan;
  readonly queued: Readonly<Record<ChaosKind, number>>;
  readonly tally: ChaosTally;
  readonly checks: readonly ChaosCheck[];
  readonly kills: number;
  readonly poisonDeaths: number;
  /** Replacements that failed to connect while the database restarted. */
  readonly refusedStarts: number;
  readonly runnerRestarts: number;
  readonly databaseRestarts: number;
  readonly stopExits: readonly RunnerExitRecord[];
  readonly unexpectedExits: readonly RunnerExitRecord[];
  /** Warn and error events the runners logged, by level and message. */
  readonly runnerLogCounts: Readonly<Record<string, number>>;
  /** Milliseconds from starting the runners to their last exit. */
  readonly wallMs: number;
}

/**
 * RUNNER_ARGS are the runners' options besides tasks and batch size:
 * quick polls and retries so that the chaos fits in seconds, a stall
 * timeout that frees a frozen round in 5 s, and a task limit above any
 * work task's time. The runners serve rather than run --until-empty: with
 * every remaining task waiting to retry or locked, an --until-empty runner
 * would find nothing and exit while work was left.
 */
const RUNNER_ARGS = [
  "--poll-ms",
  "50",
  "--retry-base-ms",
  "50",
  "--retry-max-ms",
  "500",
  "--stall-timeout-ms",
  "5000",
  "--task-timeout-ms",
  "2000",
  "--shutdown-grace-ms",
  "5000",
];

/**
 * runChaos queues chaos tasks, poison among them, starts runner processes
 * and drains the queue while killing runners at random and restarting the
 * database, then stops the runners and checks that every task settled,
 * each done task wrote one result and only poison failed. Plan defaults
 * are validateChaosPlan's.
 *
 * @throws {RangeError} for a bad plan, before any database work.
 * @throws {TypeError} when the plan restarts the database and no
 *   restartDatabase is given, or the build is missing.
 * @throws {ChaosDatabaseInUseError} when other tasks are pending.
 */
export async function runChaos(
  input: ChaosPlanInput,
  deps: ChaosDependencies,
): Promise<ChaosReport> {
  const plan = validateChaosPlan(input);
  if (plan.databaseRestarts > 0 && deps.restartDatabase === undefined) {
    throw new TypeError(
      "Cannot run chaos: the plan restarts the database, but no restartDatabase was given",
    );
  }
  const entries = buildEntries(deps.root);
  const settings = readDatabaseSettings({ DATABASE_URL: deps.url });
  const dataSource = await connect(settings, {
    applicationName: "batch-chaos",
    poolSize: 2,
  });
  try {
    return await runOn(dataSource, plan, entries, deps);
  } finally {
    await dataSource.destroy();
  }
}

async function runOn(
  dataSource: DataSource,
  plan: ChaosPlan,
  entries: BuildEntries,
  deps: ChaosDependencies,
): Promise<ChaosReport> {
  const say = (line: string) => deps.out.write(`${line}\n`);
  const random = seededRandom(plan.seed);
  await prepareChaosDatabase(dataSource);
  const queued = await queueChaosTasks(dataSource, plan, random);
  say(
    `Queued ${plan.tasks} tasks, ${poisonTotal(plan.poison)} of them ` +
      `poison (seed ${plan.seed}); starting ${plan.runners} runners`,
  );

  const fleet = startFleet(plan, entries, deps, random, say);
  const run = await drainThenStop(dataSource, plan, fleet, {
    random,
    restartDatabase: deps.restartDatabase,
    say,
  });
  return reportOn(dataSource, plan, queued, fleet.stats, run);
}

/** reportOn checks the rows a run left and sums up what it did. */
async function reportOn(
  dataSource: DataSource,
  plan: ChaosPlan,
  queued: Record<ChaosKind, number>,
  stats: FleetStats,
  run: FleetRun,
): Promise<ChaosReport> {
  const { checks, tally } = await checkChaosRun(dataSource, {
    queued,
    stopExits: run.stopExits,
    unexpectedExits: stats.unexpectedExits,
    kills: { planned: plan.kills, done: stats.kills },
    databaseRestarts: {
      planned: plan.databaseRestarts,
      done: run.databaseRestarts,
    },
  });
  return {
    ok: checks.every((check) => check.ok),
    plan,
    queued,
    tally,
    checks,
    kills: stats.kills,
    poisonDeaths: stats.poisonDeaths,
    refusedStarts: stats.refusedStarts,
    runnerRestarts: stats.restarts,
    databaseRestarts: run.databaseRestarts,
    stopExits: run.stopExits,
    unexpectedExits: stats.unexpectedExits,
    runnerLogCounts: stats.logCounts,
    wallMs: run.wallMs,
  };
}

interface FleetRun {
  readonly stopExits: RunnerExitRecord[];
  readonly databaseRestarts: number;
  readonly wallMs: number;
}

/**
 * drainThenStop drains the queue under chaos and stops the runners, also
 * when the drain throws, so that no runner outlives the run. The wall time
 * runs from the first runner's start to the last one's exit.
 */
async function drainThenStop(
  dataSource: DataSource,
  plan: ChaosPlan,
  fleet: RunnerFleet,
  deps: Omit<DrainDependencies, "dataSource" | "fleet">,
): Promise<FleetRun> {
  const started = Date.now();
  let drain: DrainResult;
  try {
    drain = await drainUnderChaos(plan, { ...deps, dataSource, fleet });
  } catch (error) {
    await fleet.stop();
    throw error;
  }
  deps.say(drain.drained ? "Queue drained" : "Deadline passed, tasks pending");

  deps.say("Stopping the runners with SIGTERM");
  const stopExits = await fleet.stop();
  return {
    stopExits,
    databaseRestarts: drain.databaseRestarts,
    wallMs: Date.now() - started,
  };
}

function startFleet(
  plan: ChaosPlan,
  entries: BuildEntries,
  deps: ChaosDependencies,
  random: Random,
  say: (line: string) => void,
): RunnerFleet {
  const fleet = new RunnerFleet({
    size: plan.runners,
    entry: entries.runner,
    args: [
      ...["--tasks", entries.chaosTask],
      ...["--batch-size", String(plan.batchSize)],
      ...["--concurrency", String(plan.concurrency)],
      ...RUNNER_ARGS,
    ],
    env: runnerEnvironment(deps.url),
    restart: plan.restartRunners,
    random,
    onLog: deps.onRunnerLog,
    onEvent: say,
  });
  fleet.start();
  return fleet;
}

interface BuildEntries {
  readonly runner: string;
  readonly chaosTask: string;
}

function buildEntries(root: string): BuildEntries {
  const entries = {
    runner: path.join(root, "dist", "SimpleBatchRunner", "main.js"),
    chaosTask: path.join(root, "dist", "Demo", "chaos", "ChaosTask.js"),
  };
  for (const entry of Object.values(entries)) {
    if (!fs.existsSync(entry)) {
      throw new TypeError(
        `Cannot run chaos: ${entry} is missing; build first with npx tsc -p .`,
      );
    }
  }
  return entries;
}

/** The runners get the chaos database and nothing else of its settings. */
function runnerEnvironment(url: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url };
  for (const name of DATABASE_VARIABLES) {
    if (name !== "DATABASE_URL") delete env[name];
  }
  return env;
}
