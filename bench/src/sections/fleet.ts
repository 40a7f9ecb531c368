import {
  buildNoopTasks,
  anyPending,
  countHeartbeats,
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
  describeExit,
  Exit,
  Started,
  stopAll,
  waitForDrain,
} from "../processes";
import type { DataSourceLike } from "../product";
import type {
  Plan,
  RunnerConfig,
  Section,
  SectionContext,
  SectionReport,
} from "../section";
import { highest, rate, round } from "../stats";
import { passesCell, problemsCell } from "../table";
import { pollUntil } from "../wait";
import { Configuration, PassedRun, runMatrix, Systems } from "./matrix";
import { describeConfig } from "./throughput";

const DATABASE = "bench_fleet";
/** Both ends of a run come from task stamps, so the poll can be slow. */
const POLL_MS = 250;
const READY_TIMEOUT_MS = 120_000;

/** FleetRun is one queue drained by K workers that were already warm. */
export interface FleetRun extends PassedRun {
  readonly system: string;
  readonly config: string;
  readonly processes: number;
  readonly tasks: number;
  /** From the first timed task's start to the last one's end. */
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Ours only: claims refused with 40001, per 100 claims, warm-up included. */
  readonly serializationRetryPercent?: number;
}

/**
 * A Fleet is K running worker processes of one system, warmed up on the
 * first `warmup` tasks; those queued after them are timed.
 */
interface Fleet {
  /** run queues `tasks`, numbered from `firstSeq`, and waits until done. */
  run(tasks: number, firstSeq: number): Promise<void>;
  /**
   * stop ends the workers and gives when the first timed task started and
   * when the last one ended.
   */
  stop(): Promise<{
    exits: Exit[];
    firstStart: number;
    lastEnd: number;
    retryPercent?: number;
  }>;
}

/** A Launch is a configuration that starts a fleet of K processes. */
interface Launch extends Configuration {
  readonly launch: (processes: number, warmup: number) => Promise<Fleet>;
}

/**
 * fleet measures throughput the way a standing deployment sees it: K
 * worker processes are started, warmed up on a first queue and left idle;
 * then a batch of no-op tasks is queued in one transaction, and the clock
 * runs from its first task's start to its last task's end. Process
 * start-up and the JIT's warm-up, which the throughput section includes,
 * stay out.
 */
export const fleetSection: Section = {
  name: "fleet",
  async run(context: SectionContext): Promise<SectionReport> {
    const runs = await runMatrix(
      context,
      DATABASE,
      "Warm fleet",
      (systems) => configurationsFor(context.plan, systems),
      (configuration, processes) =>
        measure(context.plan, configuration, processes),
      (run) => run.jobsPerSecond,
    );
    return {
      data: runs,
      tables: [tableOf(runs), targetsOf(runs, context.plan)],
    };
  },
};

async function measure(
  plan: Plan,
  configuration: Launch,
  processes: number,
): Promise<FleetRun> {
  const warmup = plan.fleetWarmupTasks * processes;
  const tasks = plan.batchedThroughputTasks;
  const fleet = await configuration.launch(processes, warmup);
  const problems: string[] = [];
  try {
    await fleet.run(warmup, 0);
    await fleet.run(tasks, warmup);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  const { exits, firstStart, lastEnd, retryPercent } = await fleet.stop();
  const seconds = (lastEnd - firstStart) / 1000;
  problems.push(...exits.filter((exit) => exit.code !== 0).map(describeExit));
  return {
    system: configuration.system,
    config: configuration.config,
    processes,
    tasks,
    seconds: round(seconds, 2),
    jobsPerSecond: round(rate(tasks, seconds * 1000)),
    ...(retryPercent === undefined
      ? {}
      : { serializationRetryPercent: retryPercent }),
    problems,
  };
}

function configurationsFor(
  plan: Plan,
  { url, dataSource, graphile, boss }: Systems,
): Launch[] {
  const ours = plan.fleetRunnerConfigs.map((runnerConfig): Launch => ({
    system: "ours",
    config: describeConfig(runnerConfig),
    launch: (processes, warmup) =>
      launchOurs(url, dataSource, processes, warmup, runnerConfig),
  }));
  return [
    ...ours,
    {
      system: "graphile-worker",
      config: GRAPHILE_BEST.name,
      launch: (processes, warmup) =>
        launchPeer(graphile, processes, {
          ...GRAPHILE_BEST.options,
          url,
          markFrom: warmup,
        }),
    },
    {
      system: "pg-boss",
      config: PGBOSS_BEST.name,
      launch: (processes, warmup) =>
        launchPeer(boss, processes, {
          ...PGBOSS_BEST.options,
          url,
          markFrom: warmup,
        }),
    },
  ];
}

async function launchOurs(
  url: string,
  dataSource: DataSourceLike,
  processes: number,
  warmup: number,
  config: RunnerConfig,
): Promise<Fleet> {
  await resetTaskTables(dataSource);
  const runners = launchRunners(url, processes, [
    "--batch-size",
    String(config.batchSize),
    "--concurrency",
    String(config.concurrency),
    "--isolation",
    config.isolation,
  ]);
  const drained = async () => !(await anyPending(dataSource));
  await readyOrStopped(
    runners,
    `${processes} runners' first heartbeats`,
    async () => (await countHeartbeats(dataSource)) >= processes,
  );
  return {
    async run(tasks, firstSeq) {
      await enqueueAll(dataSource, buildNoopTasks(tasks, firstSeq));
      await drainedBy(runners, drained, tasks);
    },
    async stop() {
      // Ids restart at 1 in each fleet: the warm-up took the first ones.
      const { firstStart, lastStop } = await taskTimes(dataSource, warmup);
      const exits = await stopAll(runners);
      const { rounds, serializationRetries: retries } = totalCounts(exits);
      return {
        exits,
        firstStart,
        lastEnd: lastStop,
        retryPercent: round((100 * retries) / Math.max(1, rounds), 2),
      };
    },
  };
}

async function launchPeer(
  peer: Peer,
  processes: number,
  options: PeerWorkerOptions,
): Promise<Fleet> {
  await peer.clear();
  let ready = 0;
  let firstStart = Number.POSITIVE_INFINITY;
  let lastEnd = Number.NEGATIVE_INFINITY;
  const workers = launchPeerWorkers(processes, options, (_name, line) => {
    if (line.startsWith("ready ")) ready += 1;
    if (line.startsWith("marked "))
      firstStart = Math.min(firstStart, Number(line.slice(7)));
    if (line.startsWith("summary ")) {
      const summary = JSON.parse(line.slice(8)) as { lastAt: number | null };
      if (summary.lastAt !== null) lastEnd = Math.max(lastEnd, summary.lastAt);
    }
  });
  await readyOrStopped(
    workers,
    `${processes} workers to be ready`,
    async () => ready >= processes,
  );
  let queued = 0;
  return {
    async run(tasks, firstSeq) {
      // One call, so the batch is committed at once, as ours is.
      await peer.enqueue(tasks, firstSeq, { atOnce: true });
      queued += tasks;
      const total = queued;
      await drainedBy(workers, () => peer.drained(total), tasks);
    },
    async stop() {
      // The workers report their last job's end as they stop.
      const exits = await stopAll(workers);
      return { exits, firstStart, lastEnd };
    },
  };
}

/**
 * readyOrStopped waits until `ready` says so; when that takes too long it
 * stops the workers and throws.
 */
async function readyOrStopped(
  workers: readonly Started[],
  what: string,
  ready: () => Promise<boolean>,
): Promise<void> {
  try {
    await pollUntil(what, ready, {
      intervalMs: 50,
      timeoutMs: READY_TIMEOUT_MS,
    });
  } catch (error) {
    await stopAll(workers, 2000);
    throw error;
  }
}

/**
 * drainedBy waits until `drained`, and throws when every worker exited
 * before that.
 */
async function drainedBy(
  workers: readonly Started[],
  drained: () => Promise<boolean>,
  tasks: number,
): Promise<void> {
  await waitForDrain(workers, drained, { tasks, intervalMs: POLL_MS });
  if (workers.every((worker) => worker.child.exitCode !== null)) {
    throw new Error("every worker exited before the queue drained");
  }
}

function tableOf(runs: readonly FleetRun[]) {
  return {
    title:
      "Warm fleet: no-op tasks queued at once to K running, warmed-up processes",
    columns: [
      "system",
      "config",
      "K",
      "tasks",
      "s",
      "jobs/s",
      "40001 %",
      "passes, jobs/s",
      "problems",
    ],
    rows: runs.map((run) => [
      run.system,
      run.config,
      run.processes,
      run.tasks,
      run.seconds,
      run.jobsPerSecond,
      run.serializationRetryPercent ?? Number.NaN,
      passesCell(run.passRates),
      problemsCell(run.problems),
    ]),
    notes: [
      "Each row is the median of its passes, which ran in turn, every configuration once per pass.",
      "s: from the first timed task's start to the last one's end; start-up and warm-up are left out.",
      "40001 %: claims our runners retried after a serialization failure, per 100, warm-up included.",
    ],
  };
}

function targetsOf(runs: readonly FleetRun[], plan: Plan) {
  const best = (chosen: readonly FleetRun[]) =>
    highest(chosen, (run) => run.jobsPerSecond);
  const rows = plan.processCounts.map((processes) => {
    const at = runs.filter((run) => run.processes === processes);
    const ours = best(at.filter((run) => run.system === "ours"));
    const graphile = best(at.filter((run) => run.system === "graphile-worker"));
    const boss = best(at.filter((run) => run.system === "pg-boss"));
    const ratio = (peer: FleetRun | undefined) =>
      round(
        (ours?.jobsPerSecond ?? Number.NaN) /
          (peer?.jobsPerSecond ?? Number.NaN),
        2,
      );
    return [
      processes,
      `${Math.round(ours?.jobsPerSecond ?? Number.NaN)} (${ours?.config ?? "-"})`,
      graphile?.jobsPerSecond ?? Number.NaN,
      boss?.jobsPerSecond ?? Number.NaN,
      ratio(graphile),
      ratio(boss),
    ];
  });
  return {
    title: "Warm fleet against the targets (ratios within this run)",
    columns: [
      "K",
      "ours best jobs/s",
      "graphile jobs/s",
      "pg-boss jobs/s",
      "× graphile (≥1.25)",
      "× pg-boss (≥2)",
    ],
    rows,
  };
}
