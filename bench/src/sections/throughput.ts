import {
  buildNoopTasks,
  anyPending,
  enqueueAll,
  launchRunners,
  resetTaskTables,
  taskTimes,
  totalCounts,
} from "../ours";
import {
  GRAPHILE_BEST,
  launchPeerWorkers,
  Peer,
  PeerWorkerOptions,
  PGBOSS_BEST,
} from "../peers/peerSetup";
import {
  awaitExits,
  describeExit,
  Started,
  stopAll,
  waitForDrain,
} from "../processes";
import type { DataSourceLike } from "../product";
import { Configuration, PassedRun, runMatrix, Systems } from "./matrix";
import type {
  Plan,
  RunnerConfig,
  Section,
  SectionContext,
  SectionReport,
} from "../section";
import { highest, rate, round } from "../stats";
import { passesCell, problemsCell } from "../table";
import type { Series } from "../svg";

const DATABASE = "bench_throughput";
const POLL_MS = 50;

/** ThroughputRun is one drain of a queue by K processes of one system. */
export interface ThroughputRun extends PassedRun {
  readonly system: string;
  readonly config: string;
  readonly processes: number;
  readonly tasks: number;
  /** From the first process launch until the last task was seen done. */
  readonly wallSeconds: number;
  readonly jobsPerSecond: number;
  /** From the first task's start until the last was seen done. */
  readonly afterFirstSeconds: number;
  readonly jobsPerSecondAfterFirst: number;
  /** Ours only: rounds retried after 40001, per 1,000 tasks done. */
  readonly serializationRetriesPer1000?: number;
  /** Ours only: rounds retried after 40001, per 100 claims (rounds). */
  readonly serializationRetryPercent?: number;
  readonly rounds?: number;
}

/** A Drain is a configuration that drains a queue with K processes. */
interface Drain extends Configuration {
  readonly drain: (processes: number) => Promise<ThroughputRun>;
}

/**
 * throughput drains a queue of no-op tasks with K processes of each system
 * and configuration: our runner by batch size under REPEATABLE READ and
 * READ COMMITTED, graphile-worker with concurrency 10 with and without a
 * local queue of 500, pg-boss with batches of 500. The queue is filled
 * before the processes start; the clock starts at their launch.
 */
export const throughputSection: Section = {
  name: "throughput",
  async run(context: SectionContext): Promise<SectionReport> {
    const runs = await runMatrix(
      context,
      DATABASE,
      "Throughput",
      (systems) => configurationsFor(context.plan, systems),
      (configuration, processes) => configuration.drain(processes),
      (run) => run.jobsPerSecondAfterFirst,
    );
    return {
      data: runs,
      tables: [tableOf(runs), targetsOf(runs, context.plan)],
      series: seriesOf(runs),
    };
  },
};

function configurationsFor(
  plan: Plan,
  { url, dataSource, graphile, boss }: Systems,
): Drain[] {
  const ours = plan.runnerConfigs.map((runnerConfig): Drain => ({
    system: "ours",
    config: describeConfig(runnerConfig),
    drain: (processes) =>
      drainOurs(plan, url, dataSource, processes, runnerConfig),
  }));
  const peer = (
    system: Drain["system"],
    config: string,
    batched: boolean,
    target: Peer,
    options: Omit<PeerWorkerOptions, "url">,
  ): Drain => ({
    system,
    config,
    drain: (processes) =>
      drainPeer(
        batched ? plan.batchedThroughputTasks : plan.throughputTasks,
        target,
        processes,
        { ...options, url },
        system,
        config,
      ),
  });

  return [
    ...ours,
    peer("graphile-worker", "concurrency 10", false, graphile, {
      system: "graphile",
      concurrency: 10,
    }),
    peer(
      "graphile-worker",
      GRAPHILE_BEST.name,
      true,
      graphile,
      GRAPHILE_BEST.options,
    ),
    peer("pg-boss", PGBOSS_BEST.name, true, boss, PGBOSS_BEST.options),
  ];
}

/** describeConfig names a runner setting: "n=100 c=2 RR". */
export function describeConfig(config: RunnerConfig): string {
  const lanes = config.concurrency > 1 ? ` c=${config.concurrency}` : "";
  const isolation = config.isolation === "repeatable-read" ? "RR" : "RC";
  return `n=${config.batchSize}${lanes} ${isolation}`;
}

async function drainOurs(
  plan: Plan,
  url: string,
  dataSource: DataSourceLike,
  processes: number,
  config: RunnerConfig,
): Promise<ThroughputRun> {
  const tasks =
    config.batchSize > 1 ? plan.batchedThroughputTasks : plan.throughputTasks;
  await resetTaskTables(dataSource);
  await enqueueAll(dataSource, buildNoopTasks(tasks));
  await dataSource.query("ANALYZE blog.batchjob");

  const runners = launchRunners(url, processes, [
    "--until-empty",
    "--batch-size",
    String(config.batchSize),
    "--concurrency",
    String(config.concurrency),
    "--isolation",
    config.isolation,
  ]);
  const end = await waitForDrain(
    runners,
    async () => !(await anyPending(dataSource)),
    { tasks, intervalMs: POLL_MS },
  );
  const exits = await awaitExits(runners, 30_000);
  const times = await taskTimes(dataSource);

  const { rounds, serializationRetries: retries } = totalCounts(exits);
  const problems = exits.filter((exit) => exit.code !== 0).map(describeExit);
  if (times.done !== tasks) {
    problems.push(`${times.done} of ${tasks} tasks done`);
  }
  return {
    ...timing(
      "ours",
      describeConfig(config),
      processes,
      times.done,
      launchOf(runners),
      times.firstStart,
      end,
    ),
    serializationRetriesPer1000: round(
      (retries * 1000) / Math.max(1, times.done),
      2,
    ),
    serializationRetryPercent: round((100 * retries) / Math.max(1, rounds), 2),
    rounds,
    problems,
  };
}

async function drainPeer(
  tasks: number,
  peer: Peer,
  processes: number,
  options: PeerWorkerOptions,
  system: string,
  config: string,
): Promise<ThroughputRun> {
  await peer.clear();
  await peer.enqueue(tasks);

  let firstStart = Number.POSITIVE_INFINITY;
  const workers = launchPeerWorkers(processes, options, (_name, line) => {
    if (line.startsWith("first "))
      firstStart = Math.min(firstStart, Number(line.slice(6)));
  });
  const end = await waitForDrain(workers, () => peer.drained(tasks), {
    tasks,
    intervalMs: POLL_MS,
  });
  const exits = await stopAll(workers);
  const done = await peer.done(tasks);

  // A worker still starting when the queue drained dies of our SIGTERM
  // before installing its handler; that is no fault of the run.
  const problems = exits
    .filter((exit) => exit.code !== 0 && exit.signal !== "SIGTERM")
    .map(describeExit);
  if (done !== tasks) problems.push(`${done} of ${tasks} jobs done`);
  return {
    ...timing(
      system,
      config,
      processes,
      done,
      launchOf(workers),
      firstStart,
      end,
    ),
    problems,
  };
}

function launchOf(started: readonly Started[]): number {
  return Math.min(...started.map((process) => process.launchedAt));
}

function timing(
  system: string,
  config: string,
  processes: number,
  tasks: number,
  launchedAt: number,
  firstStart: number,
  end: number,
) {
  const wall = end - launchedAt;
  const afterFirst = end - firstStart;
  return {
    system,
    config,
    processes,
    tasks,
    wallSeconds: round(wall / 1000, 2),
    jobsPerSecond: round(rate(tasks, wall)),
    afterFirstSeconds: round(afterFirst / 1000, 2),
    jobsPerSecondAfterFirst: round(rate(tasks, afterFirst)),
  };
}

function tableOf(runs: readonly ThroughputRun[]) {
  return {
    title: "Throughput: no-op tasks, K processes",
    columns: [
      "system",
      "config",
      "K",
      "tasks",
      "wall s",
      "jobs/s",
      "after 1st s",
      "jobs/s after 1st",
      "40001/1k",
      "40001 %",
      "passes, jobs/s after 1st",
      "problems",
    ],
    rows: runs.map((run) => [
      run.system,
      run.config,
      run.processes,
      run.tasks,
      run.wallSeconds,
      run.jobsPerSecond,
      run.afterFirstSeconds,
      run.jobsPerSecondAfterFirst,
      run.serializationRetriesPer1000 ?? Number.NaN,
      run.serializationRetryPercent ?? Number.NaN,
      passesCell(run.passRates),
      problemsCell(run.problems),
    ]),
    notes: [
      "Each row is the median of its passes, which ran in turn, every configuration once per pass.",
      "wall: from the first process launch, start-up included; after 1st: from the first task's start.",
      "40001/1k: rounds our runners retried after a serialization failure, per 1,000 tasks; 40001 %: per 100 claims.",
      "n: batch size; c: rounds in flight per process (--concurrency); RR/RC: REPEATABLE READ or READ COMMITTED.",
      "problems: how many, and the first; all of them are in the JSON.",
    ],
  };
}

/**
 * targetsOf sets the figures that matter side by side, per process count,
 * as ratios within this run: our best against each peer's best, the
 * original's setting against graphile-worker unbatched, and what
 * REPEATABLE READ costs against READ COMMITTED.
 */
function targetsOf(runs: readonly ThroughputRun[], plan: Plan) {
  const rate = (run: ThroughputRun | undefined) =>
    run?.jobsPerSecondAfterFirst ?? Number.NaN;
  const best = (chosen: readonly ThroughputRun[]) => highest(chosen, rate);
  const ratio = (a: number, b: number) => round(a / b, 2);
  const rows = plan.processCounts.map((processes) => {
    const at = runs.filter((run) => run.processes === processes);
    const ours = at.filter((run) => run.system === "ours");
    const oursRR = best(ours.filter((run) => run.config.endsWith("RR")));
    const graphile = best(at.filter((run) => run.system === "graphile-worker"));
    const boss = best(at.filter((run) => run.system === "pg-boss"));
    const find = (config: string) => ours.find((run) => run.config === config);
    const unbatched = at.find(
      (run) =>
        run.system === "graphile-worker" && run.config === "concurrency 10",
    );
    return [
      processes,
      `${rate(oursRR)} (${oursRR?.config ?? "-"})`,
      `${rate(graphile)} (${graphile?.config ?? "-"})`,
      ratio(rate(oursRR), rate(graphile)),
      ratio(rate(oursRR), rate(boss)),
      ratio(rate(find("n=1 RR")), rate(unbatched)),
      ratio(rate(find("n=1 c=10 RR")), rate(unbatched)),
      ratio(rate(find("n=1 RR")), rate(find("n=1 RC"))),
      find("n=1 RR")?.serializationRetryPercent ?? Number.NaN,
      oursRR?.serializationRetryPercent ?? Number.NaN,
    ];
  });
  return {
    title: "Throughput against the targets (ratios within this run)",
    columns: [
      "K",
      "ours best RR jobs/s",
      "graphile best jobs/s",
      "× graphile (≥1.25)",
      "× pg-boss (≥2)",
      "n=1 RR × graphile c10 (≥1)",
      "n=1 c=10 RR × graphile c10",
      "n=1 RR ÷ RC (≥0.85)",
      "40001 % n=1 RR (<1)",
      "40001 % best",
    ],
    rows,
    notes: [
      "Rates are jobs/s after the first task started; 40001 %: claims refused per 100, for the original's setting and for our best.",
    ],
  };
}

function seriesOf(runs: readonly ThroughputRun[]): Series[] {
  const byLine = new Map<string, { x: number; y: number }[]>();
  for (const run of runs) {
    const label = `${run.system} ${run.config}`;
    const points = byLine.get(label) ?? [];
    points.push({ x: run.processes, y: run.jobsPerSecondAfterFirst });
    byLine.set(label, points);
  }
  return [...byLine].map(([label, points]) => ({ label, points }));
}
