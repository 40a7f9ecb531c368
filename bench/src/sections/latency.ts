import { setTimeout as sleep } from "node:timers/promises";
import {
  buildNoopTasks,
  countHeartbeats,
  enqueueOne,
  launchRunners,
} from "../ours";
import {
  launchPeerWorkers,
  openGraphile,
  openPgBoss,
  Peer,
  PeerWorkerOptions,
} from "../peers/peerSetup";
import { PEER_TASK } from "../peers/peerTask";
import { Started, stopAll } from "../processes";
import { connectTo, DataSourceLike, product } from "../product";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, percentile, round } from "../stats";
import { pollUntil, randomBetween } from "../wait";

const DATABASE = "bench_latency";
/** Idle time before each task, drawn at random so polls fall anywhere. */
const GAP_MS: readonly [number, number] = [100, 700];
const SETTLE_MS = 1500;
const TASK_TIMEOUT_MS = 15_000;

interface LatencyResult {
  readonly system: string;
  readonly config: string;
  readonly samples: readonly number[];
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
}

/**
 * latency times from enqueue to task start on one idle worker process, one
 * task at a time after a random gap: ours with its default poll (it polls
 * today; whatever it does is what is timed), graphile-worker (LISTEN/
 * NOTIFY) and pg-boss (polling at its minimum interval of 0.5 s). Our
 * task's start is the `startedat` the runner records; the peers' tasks
 * print theirs.
 */
export const latencySection: Section = {
  name: "latency",
  async run(context: SectionContext): Promise<SectionReport> {
    const url = await context.server.freshDatabase(DATABASE);
    const dataSource = await connectTo(url);
    const results: LatencyResult[] = [];
    try {
      await product().migrate(dataSource);
      context.progress("Latency: ours");
      results.push(await measureOurs(context, url, dataSource));

      const graphile = await openGraphile(url);
      context.progress("Latency: graphile-worker");
      results.push(
        await measurePeer(
          context,
          graphile,
          { system: "graphile", url, concurrency: 10 },
          "graphile-worker",
          "concurrency 10",
        ).finally(() => graphile.close()),
      );
      const boss = await openPgBoss(url, PEER_TASK);
      context.progress("Latency: pg-boss");
      results.push(
        await measurePeer(
          context,
          boss,
          { system: "pgboss", url, queue: PEER_TASK, pollMs: 500 },
          "pg-boss",
          "poll 0.5 s",
        ).finally(() => boss.close()),
      );
    } finally {
      await dataSource.destroy();
      await context.server.dropDatabase(DATABASE);
    }
    return {
      data: results,
      tables: [
        {
          title: `Wake-up latency: enqueue to task start, ${context.plan.latencySamples} single tasks on an idle worker (ms)`,
          columns: ["system", "config", "p50", "p95", "max"],
          rows: results.map((result) => [
            result.system,
            result.config,
            result.p50,
            result.p95,
            result.max,
          ]),
        },
      ],
    };
  },
};

async function measureOurs(
  context: SectionContext,
  url: string,
  dataSource: DataSourceLike,
): Promise<LatencyResult> {
  const [runner] = launchRunners(url, 1, []);
  const samples: number[] = [];
  try {
    await pollUntil(
      "the runner's first heartbeat",
      async () => (await countHeartbeats(dataSource)) > 0,
      { intervalMs: 50, timeoutMs: 30_000 },
    );
    await sleep(SETTLE_MS);

    for (let seq = 0; seq < context.plan.latencySamples; seq += 1) {
      await sleep(randomBetween(...GAP_MS));
      const queuedAt = epochMs();
      await enqueueOne(dataSource, buildNoopTasks(1, seq));
      const startedAt = await startOf(dataSource, seq);
      samples.push(startedAt - queuedAt);
    }
  } finally {
    await stopAll([runner]);
  }
  return summary("ours", "default options", samples);
}

/** startOf waits for the task with `seq` to be done and gives its start. */
async function startOf(
  dataSource: DataSourceLike,
  seq: number,
): Promise<number> {
  let startedAt = Number.NaN;
  await pollUntil(
    `task ${seq} to run`,
    async () => {
      const rows = await dataSource.query(
        `SELECT extract(epoch FROM startedat) * 1000 AS started FROM blog.batchjob
       WHERE status = 1 AND contractjson = $1`,
        [JSON.stringify({ Seq: seq })],
      );
      if (rows.length === 0) return false;
      startedAt = Number(rows[0].started);
      return true;
    },
    { intervalMs: 10, timeoutMs: TASK_TIMEOUT_MS },
  );
  return startedAt;
}

async function measurePeer(
  context: SectionContext,
  peer: Peer,
  options: PeerWorkerOptions,
  system: string,
  config: string,
): Promise<LatencyResult> {
  const starts = new Map<number, number>();
  let ready = false;
  const [worker] = launchPeerWorkers(
    1,
    { ...options, reportStarts: true },
    (_name, line) => {
      const [kind, first, second] = line.split(" ");
      if (kind === "ready") ready = true;
      if (kind === "start") starts.set(Number(first), Number(second));
    },
  );
  const samples: number[] = [];
  try {
    await pollUntil(`${system} to be ready`, async () => ready, {
      intervalMs: 20,
      timeoutMs: 30_000,
    });
    await sleep(SETTLE_MS);
    for (let seq = 0; seq < context.plan.latencySamples; seq += 1) {
      await sleep(randomBetween(...GAP_MS));
      const queuedAt = epochMs();
      await peer.enqueueOne(seq);
      await pollUntil(
        `${system} job ${seq} to start`,
        async () => starts.has(seq),
        {
          intervalMs: 2,
          timeoutMs: TASK_TIMEOUT_MS,
        },
      );
      samples.push((starts.get(seq) ?? Number.NaN) - queuedAt);
    }
  } finally {
    await stopAll([worker] as Started[]);
  }
  return summary(system, config, samples);
}

function summary(
  system: string,
  config: string,
  samples: number[],
): LatencyResult {
  return {
    system,
    config,
    samples: samples.map((sample) => round(sample, 2)),
    p50: round(percentile(samples, 50)),
    p95: round(percentile(samples, 95)),
    max: round(Math.max(...samples)),
  };
}
