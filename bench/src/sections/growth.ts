import { setTimeout as sleep } from "node:timers/promises";
import {
  buildNoopTasks,
  countPending,
  enqueueAll,
  launchRunners,
  resetTaskTables,
} from "../ours";
import { awaitExits, describeExit } from "../processes";
import { connectTo, DataSourceLike, product } from "../product";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, percentile, rate, round } from "../stats";
import type { Table } from "../table";

const DATABASE = "bench_growth";
const PENDING_TASKS = 1000;
const CLAIM_TRIALS = 200;
const CLAIM_LIMITS = [1, 100];
const SUSTAINED_RUNNERS = 4;
const SUSTAINED_BATCH = 100;
/** Finished rows per INSERT, so 10 million are not one statement. */
const SEED_CHUNK = 1_000_000;

/**
 * The rows a claim finds beneath the pending tasks: finished ones, or
 * tasks waiting to retry, not yet due, as after an outage downstream.
 */
type RowsBeneath = "finished" | "waiting";

interface ClaimLatency {
  readonly rows: number;
  readonly beneath: RowsBeneath;
  readonly limit: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

interface Sustained {
  readonly tasks: number;
  readonly seconds: number;
  readonly tasksPerSecond: number;
  readonly liveRows: number;
  readonly deadRows: number;
  /** Dead rows left after a plain VACUUM, and how long it took. */
  readonly deadRowsAfterVacuum: number;
  readonly vacuumSeconds: number;
  readonly totalBytes: number;
  readonly autovacuums: number;
  readonly problems: readonly string[];
}

/**
 * growth times the claim query, DataLayer/claim.ts inside a REPEATABLE
 * READ transaction as the runner runs it, with many finished rows in the
 * task table beneath 1,000 pending ones, and then as many tasks waiting to
 * retry instead; then drains a long queue with 4 runners and reports the
 * table's size and dead rows after. The rows beneath are inserted directly
 * with generate_series.
 */
export const growthSection: Section = {
  name: "growth",
  fullOnly: true,
  async run(context: SectionContext): Promise<SectionReport> {
    const url = await context.server.freshDatabase(DATABASE);
    const dataSource = await connectTo(url);
    const claims: ClaimLatency[] = [];
    let sustained: Sustained;
    try {
      await product().migrate(dataSource);
      for (const beneath of ["finished", "waiting"] as const) {
        for (const rows of context.plan.growthRowsBeneath) {
          if (beneath === "waiting" && rows === 0) continue;
          context.progress(
            `Growth: claim latency over ${rows} ${beneath} rows`,
          );
          await seedRowsBeneath(dataSource, rows, beneath);
          for (const limit of CLAIM_LIMITS)
            claims.push(await timeClaims(dataSource, rows, beneath, limit));
        }
      }
      context.progress(
        `Growth: sustained run of ${context.plan.sustainedTasks} tasks`,
      );
      sustained = await sustainedRun(
        url,
        dataSource,
        context.plan.sustainedTasks,
      );
    } finally {
      await dataSource.destroy();
      await context.server.dropDatabase(DATABASE);
    }
    return { data: { claims, sustained }, tables: tablesOf(claims, sustained) };
  },
};

async function seedRowsBeneath(
  dataSource: DataSourceLike,
  rows: number,
  beneath: RowsBeneath,
): Promise<void> {
  await resetTaskTables(dataSource);
  // Finished, or pending and due in a day.
  const [status, delay] = beneath === "finished" ? [1, null] : [0, "1 day"];
  for (let start = 0; start < rows; start += SEED_CHUNK) {
    await dataSource.query(
      `INSERT INTO blog.batchjob
         (classname, contractname, contractjson, status, startedat, stoppedat,
          runnerid, notbefore)
       SELECT 'BenchNoopTask', 'BenchNoopContract', '{"Seq":' || g || '}', $3,
              now(), now(), 'seed', now() + $4::interval
       FROM generate_series($1::int, $2::int) AS g`,
      [start, Math.min(rows, start + SEED_CHUNK) - 1, status, delay],
    );
  }
  await enqueueAll(dataSource, buildNoopTasks(PENDING_TASKS, rows));
  await dataSource.query("VACUUM ANALYZE blog.batchjob");
}

/** timeClaims claims and rolls back, so every trial sees the same rows. */
async function timeClaims(
  dataSource: DataSourceLike,
  rows: number,
  beneath: RowsBeneath,
  limit: number,
): Promise<ClaimLatency> {
  const { claimPendingTasks } = product();
  const times: number[] = [];
  const queryRunner = dataSource.createQueryRunner();
  await queryRunner.connect();
  try {
    for (let trial = 0; trial < CLAIM_TRIALS; trial += 1) {
      await queryRunner.startTransaction("REPEATABLE READ");
      const started = epochMs();
      await claimPendingTasks(queryRunner.manager, limit);
      times.push(epochMs() - started);
      await queryRunner.rollbackTransaction();
    }
  } finally {
    await queryRunner.release();
  }
  return {
    rows,
    beneath,
    limit,
    p50Ms: round(percentile(times, 50), 2),
    p95Ms: round(percentile(times, 95), 2),
  };
}

async function sustainedRun(
  url: string,
  dataSource: DataSourceLike,
  tasks: number,
): Promise<Sustained> {
  await resetTaskTables(dataSource);
  for (let start = 0; start < tasks; start += 100_000) {
    await enqueueAll(
      dataSource,
      buildNoopTasks(Math.min(100_000, tasks - start), start),
    );
  }
  await dataSource.query("ANALYZE blog.batchjob");

  const runners = launchRunners(url, SUSTAINED_RUNNERS, [
    "--until-empty",
    "--batch-size",
    String(SUSTAINED_BATCH),
  ]);
  const launched = Math.min(...runners.map((process) => process.launchedAt));
  const exits = await awaitExits(runners, 60_000 + tasks * 10);
  const seconds = (epochMs() - launched) / 1000;
  const pending = await countPending(dataSource);

  // Statistics reach pg_stat_user_tables shortly after the backends exit.
  await sleep(1500);
  const statistics = `SELECT n_live_tup::bigint AS live,
            n_dead_tup::bigint AS dead, autovacuum_count::int AS autovacuums,
            pg_total_relation_size('blog.batchjob')::bigint AS bytes
     FROM pg_stat_user_tables WHERE schemaname = 'blog' AND relname = 'batchjob'`;
  const [row] = await dataSource.query(statistics);
  // What the runners left must be garbage a plain VACUUM clears: nothing
  // of theirs may hold it back.
  const vacuumStarted = epochMs();
  await dataSource.query("VACUUM blog.batchjob");
  const vacuumSeconds = (epochMs() - vacuumStarted) / 1000;
  await sleep(1500);
  const [vacuumed] = await dataSource.query(statistics);
  const problems = exits.filter((exit) => exit.code !== 0).map(describeExit);
  if (pending > 0) problems.push(`${pending} tasks still pending`);
  return {
    tasks,
    seconds: round(seconds, 1),
    tasksPerSecond: round(rate(tasks, seconds * 1000)),
    liveRows: Number(row.live),
    deadRows: Number(row.dead),
    deadRowsAfterVacuum: Number(vacuumed.dead),
    vacuumSeconds: round(vacuumSeconds, 1),
    totalBytes: Number(row.bytes),
    autovacuums: row.autovacuums,
    problems,
  };
}

function tablesOf(
  claims: readonly ClaimLatency[],
  sustained: Sustained,
): Table[] {
  return [
    {
      title: `Claim latency with rows beneath ${PENDING_TASKS} pending (${CLAIM_TRIALS} claims each, ms)`,
      columns: ["rows beneath", "which", "limit", "p50", "p95"],
      rows: claims.map((claim) => [
        claim.rows,
        claim.beneath,
        claim.limit,
        claim.p50Ms,
        claim.p95Ms,
      ]),
    },
    {
      title: `Task table after a sustained run (${SUSTAINED_RUNNERS} runners, batch ${SUSTAINED_BATCH})`,
      columns: [
        "tasks",
        "seconds",
        "tasks/s",
        "live rows",
        "dead rows",
        "MiB",
        "autovacuums",
        "VACUUM s",
        "dead after",
      ],
      rows: [
        [
          sustained.tasks,
          sustained.seconds,
          sustained.tasksPerSecond,
          sustained.liveRows,
          sustained.deadRows,
          round(sustained.totalBytes / 2 ** 20, 1),
          sustained.autovacuums,
          sustained.vacuumSeconds,
          sustained.deadRowsAfterVacuum,
        ],
      ],
      notes: sustained.problems,
    },
  ];
}
