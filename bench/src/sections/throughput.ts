import {
  buildNoopTasks,
  countPending,
  countsFrom,
  enqueueAll,
  launchRunners,
  resetTaskTables,
  taskTimes,
} from "../ours";
import {
  launchPeerWorkers,
  openGraphile,
  openPgBoss,
  Peer,
  PeerWorkerOptions,
} from "../peers/peerSetup";
import { PEER_TASK } from "../peers/peerTask";
import { awaitExits, describeExit, Started, stopAll } from "../processes";
import { connectTo, DataSourceLike, product } from "../product";
import type { Plan, Section, SectionContext, SectionReport } from "../section";
import { epochMs, rate, round } from "../stats";
import type { Series } from "../svg";
import { pollUntil } from "../wait";

const DATABASE = "bench_throughput";
const POLL_MS = 50;

/** ThroughputRun is one drain of a queue by K processes of one system. */
export interface ThroughputRun {
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
  readonly rounds?: number;
  /** Processes that did not exit cleanly, with their last log lines. */
  readonly problems: readonly string[];
}

interface Configuration {
  readonly system: "ours" | "graphile-worker" | "pg-boss";
  readonly config: string;
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
    const url = await context.server.freshDatabase(DATABASE);
    const dataSource = await connectTo(url);
    const graphile = await openGraphile(url);
    const boss = await openPgBoss(url, PEER_TASK);
    const runs: ThroughputRun[] = [];
    try {
      await product().migrate(dataSource);
      const configurations = configurationsFor(
        context.plan,
        url,
        dataSource,
        graphile,
        boss,
      );
      for (const configuration of configurations) {
        for (const processes of context.plan.processCounts) {
          context.progress(
            `Throughput: ${configuration.system} ${configuration.config}, K=${processes}`,
          );
          runs.push(await configuration.drain(processes));
          await dataSource.query("VACUUM ANALYZE");
        }
      }
    } finally {
      await Promise.allSettled([
        graphile.close(),
        boss.close(),
        dataSource.destroy(),
      ]);
      await context.server.dropDatabase(DATABASE);
    }
    return {
      data: runs,
      tables: [tableOf(runs, context.plan)],
      series: seriesOf(runs),
    };
  },
};

function configurationsFor(
  plan: Plan,
  url: string,
  dataSource: DataSourceLike,
  graphile: Peer,
  boss: Peer,
): Configuration[] {
  const ours = (
    isolation: "repeatable-read" | "read-committed",
    abbreviation: string,
    batchSizes: readonly number[],
  ) =>
    batchSizes.map((batchSize) => ({
      system: "ours" as const,
      config: `n=${batchSize} ${abbreviation}`,
      drain: (processes: number) =>
        drainOurs(plan, url, dataSource, processes, batchSize, isolation),
    }));
  const peer = (
    system: Configuration["system"],
    config: string,
    target: Peer,
    options: Omit<PeerWorkerOptions, "url">,
  ): Configuration => ({
    system,
    config,
    drain: (processes) =>
      drainPeer(plan, target, processes, { ...options, url }, system, config),
  });

  return [
    ...ours("repeatable-read", "RR", plan.batchSizes),
    ...ours("read-committed", "RC", plan.readCommittedBatchSizes),
    peer("graphile-worker", "concurrency 10", graphile, {
      system: "graphile",
      concurrency: 10,
    }),
    peer("graphile-worker", "concurrency 10, local queue 500", graphile, {
      system: "graphile",
      concurrency: 10,
      localQueue: 500,
    }),
    peer("pg-boss", "batchSize 500", boss, {
      system: "pgboss",
      queue: PEER_TASK,
      batchSize: 500,
      pollMs: 500,
    }),
  ];
}

/** A drain may take 10 ms per task plus a minute for process start-up. */
function timeoutFor(plan: Plan): number {
  return 60_000 + plan.throughputTasks * 10;
}

async function drainOurs(
  plan: Plan,
  url: string,
  dataSource: DataSourceLike,
  processes: number,
  batchSize: number,
  isolation: "repeatable-read" | "read-committed",
): Promise<ThroughputRun> {
  await resetTaskTables(dataSource);
  await enqueueAll(dataSource, buildNoopTasks(plan.throughputTasks));
  await dataSource.query("ANALYZE blog.batchjob");

  const runners = launchRunners(url, processes, [
    "--until-empty",
    "--batch-size",
    String(batchSize),
    "--isolation",
    isolation,
  ]);
  const end = await waitForDrain(
    runners,
    async () => (await countPending(dataSource)) === 0,
    plan,
  );
  const exits = await awaitExits(runners, 30_000);
  const times = await taskTimes(dataSource);

  const counts = exits.map((exit) => countsFrom(exit.stderrTail));
  const retries = counts.reduce(
    (sum, count) => sum + (count?.serializationRetries ?? 0),
    0,
  );
  const rounds = counts.reduce((sum, count) => sum + (count?.rounds ?? 0), 0);
  const problems = exits.filter((exit) => exit.code !== 0).map(describeExit);
  if (times.done !== plan.throughputTasks) {
    problems.push(`${times.done} of ${plan.throughputTasks} tasks done`);
  }
  return {
    ...timing(
      "ours",
      `n=${batchSize} ${isolation === "repeatable-read" ? "RR" : "RC"}`,
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
    rounds,
    problems,
  };
}

async function drainPeer(
  plan: Plan,
  peer: Peer,
  processes: number,
  options: PeerWorkerOptions,
  system: string,
  config: string,
): Promise<ThroughputRun> {
  const tasks = plan.throughputTasks;
  await peer.clear();
  await peer.enqueue(tasks);

  let firstStart = Number.POSITIVE_INFINITY;
  const workers = launchPeerWorkers(processes, options, (_name, line) => {
    if (line.startsWith("first "))
      firstStart = Math.min(firstStart, Number(line.slice(6)));
  });
  const end = await waitForDrain(
    workers,
    async () => (await peer.done(tasks)) >= tasks,
    plan,
  );
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

/**
 * waitForDrain polls until `drained` says so, or every process has exited,
 * and gives the time it was first seen drained.
 *
 * @throws {Error} when the run takes longer than its bound; its processes
 *   are stopped first.
 */
async function waitForDrain(
  started: readonly Started[],
  drained: () => Promise<boolean>,
  plan: Plan,
): Promise<number> {
  let exited = false;
  void Promise.all(started.map((process) => process.exited)).then(() => {
    exited = true;
  });
  try {
    await pollUntil(
      "the queue to drain",
      async () => (await drained()) || exited,
      {
        intervalMs: POLL_MS,
        timeoutMs: timeoutFor(plan),
      },
    );
  } catch (error) {
    await stopAll(started, 2000);
    throw error;
  }
  return epochMs();
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

function tableOf(runs: readonly ThroughputRun[], plan: Plan) {
  return {
    title: `Throughput: ${plan.throughputTasks.toLocaleString("en-US")} no-op tasks, K processes`,
    columns: [
      "system",
      "config",
      "K",
      "wall s",
      "jobs/s",
      "after 1st s",
      "jobs/s after 1st",
      "40001/1k",
      "problems",
    ],
    rows: runs.map((run) => [
      run.system,
      run.config,
      run.processes,
      run.wallSeconds,
      run.jobsPerSecond,
      run.afterFirstSeconds,
      run.jobsPerSecondAfterFirst,
      run.serializationRetriesPer1000 ?? Number.NaN,
      run.problems.length === 0
        ? ""
        : `${run.problems.length}: ${run.problems[0].slice(0, 60)}`,
    ]),
    notes: [
      "wall: from the first process launch, start-up included; after 1st: from the first task's start.",
      "40001/1k: rounds our runners retried after a serialization failure, per 1,000 tasks.",
      "ours logs each task at info (its default); the peers log warnings only.",
      "problems: how many, and the first; all of them are in the JSON.",
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
