import { launchRunners } from "../ours";
import { awaitExits, describeExit } from "../processes";
import { connectTo, DataSourceLike, product } from "../product";
import type { Section, SectionContext, SectionReport } from "../section";
import { epochMs, median, round } from "../stats";

const DATABASE = "bench_vendor";
/** The original's pause before each commit. */
const HOLD_MS = 500;
const AGGREGATE_TRIALS = 3;

// Every vendor's total and line count in one statement: the answer one
// machine gives without any queue.
const AGGREGATE = `
  SELECT vendor.businessentityid AS vendorid,
         coalesce(totals.total, 0) AS total, coalesce(items.items, 0) AS items
  FROM purchasing.vendor AS vendor
  LEFT JOIN (SELECT vendorid, sum(subtotal) AS total
             FROM purchasing.purchaseorderheader GROUP BY vendorid) AS totals
    ON totals.vendorid = vendor.businessentityid
  LEFT JOIN (SELECT header.vendorid, count(*) AS items
             FROM purchasing.purchaseorderdetail AS detail
             JOIN purchasing.purchaseorderheader AS header
               ON header.purchaseorderid = detail.purchaseorderid
             GROUP BY header.vendorid) AS items
    ON items.vendorid = vendor.businessentityid`;

interface VendorRun {
  readonly scale: number;
  readonly runners: number;
  readonly tasks: number;
  readonly seconds: number;
  /** From the first task's start to the last task's stop: start-up left out. */
  readonly afterFirstSeconds: number;
  /** Single-runner time over this time. */
  readonly speedUp: number;
  /** Speed-up over K: 1 is the ideal, single-runner time / K. */
  readonly efficiency: number;
  readonly matching: string;
  readonly problems: readonly string[];
}

interface ScaleResult {
  readonly scale: number;
  readonly sample: { vendors: number; headers: number; details: number };
  readonly loadSeconds: number;
  readonly aggregateMs: number;
  /** Measured with one runner, or estimated as tasks × (hold + task time). */
  readonly singleRunnerSeconds: number;
  readonly singleRunnerEstimated: boolean;
  readonly runs: readonly VendorRun[];
}

/**
 * vendorJob runs the example job, one SummedSalesBatch task per vendor, on
 * the generated AdventureWorks sample with the original's 500 ms hold, by
 * K runners; checks every result against one SQL aggregate; and times
 * that aggregate as the single-machine baseline. Without a one-runner run
 * (the quick form) the single-runner time is estimated from the tasks'
 * own durations.
 */
export const vendorJobSection: Section = {
  name: "vendorjob",
  async run(context: SectionContext): Promise<SectionReport> {
    const results: ScaleResult[] = [];
    for (const scale of context.plan.vendorScales) {
      results.push(await runScale(context, scale));
    }
    await context.server.dropDatabase(DATABASE);
    return {
      data: results,
      tables: [
        {
          title: `Vendor job (SummedSalesBatch, hold ${HOLD_MS} ms, batch size 1)`,
          columns: [
            "scale",
            "vendors",
            "K",
            "seconds",
            "after 1st s",
            "speed-up",
            "efficiency",
            "checked",
            "1 runner s",
            "SQL aggregate ms",
          ],
          rows: results.flatMap((result) =>
            result.runs.map((run) => [
              result.scale,
              result.sample.vendors,
              run.runners,
              run.seconds,
              run.afterFirstSeconds,
              run.speedUp,
              run.efficiency,
              run.matching,
              `${result.singleRunnerSeconds}${result.singleRunnerEstimated ? " (est.)" : ""}`,
              result.aggregateMs,
            ]),
          ),
          notes: [
            "seconds: runner launch to the last runner's exit; after 1st: first task start to last commit (about); efficiency = (1-runner seconds / K) / seconds.",
            "(est.): no 1-runner run; estimated as tasks × (hold + mean task time) from the first run.",
          ],
        },
      ],
    };
  },
};

async function runScale(
  context: SectionContext,
  scale: number,
): Promise<ScaleResult> {
  const url = await context.server.freshDatabase(DATABASE);
  const dataSource = await connectTo(url);
  try {
    const { migrate, loadSample } = product();
    await migrate(dataSource);
    context.progress(`Vendor job: loading the sample at scale ${scale}`);
    const loadStarted = epochMs();
    const sample = await loadSample(dataSource, {
      kind: "generated",
      seed: 1,
      scale,
    });
    const loadSeconds = round((epochMs() - loadStarted) / 1000, 1);
    const aggregateMs = await timeAggregate(dataSource);

    const measured: Awaited<ReturnType<typeof runJob>>[] = [];
    for (const runners of context.plan.vendorRunners) {
      context.progress(`Vendor job: scale ${scale}, ${runners} runners`);
      measured.push(await runJob(url, dataSource, runners, sample.vendors));
    }

    const single = measured.find((run) => run.runners === 1);
    const estimate = sample.vendors * (HOLD_MS + (measured[0]?.taskMs ?? 0));
    const singleMs = single?.ms ?? estimate;
    const runs = measured.map((run) => ({
      scale,
      runners: run.runners,
      tasks: sample.vendors,
      seconds: round(run.ms / 1000, 2),
      afterFirstSeconds: round(run.afterFirstMs / 1000, 2),
      speedUp: round(singleMs / run.ms, 2),
      efficiency: round(singleMs / run.runners / run.ms, 2),
      matching: run.matching,
      problems: run.problems,
    }));
    return {
      scale,
      sample,
      loadSeconds,
      aggregateMs,
      singleRunnerSeconds: round(singleMs / 1000, 1),
      singleRunnerEstimated: single === undefined,
      runs,
    };
  } finally {
    await dataSource.destroy();
  }
}

async function timeAggregate(dataSource: DataSourceLike): Promise<number> {
  const times: number[] = [];
  for (let trial = 0; trial < AGGREGATE_TRIALS; trial += 1) {
    const started = epochMs();
    await dataSource.query(AGGREGATE);
    times.push(epochMs() - started);
  }
  return round(median(times), 1);
}

async function runJob(
  url: string,
  dataSource: DataSourceLike,
  runners: number,
  vendors: number,
) {
  const { queueVendorJob, verifyVendorJob, taskRegistry } = product();
  await queueVendorJob(dataSource, taskRegistry);

  const started = launchRunners(
    url,
    runners,
    ["--until-empty", "--hold-ms", String(HOLD_MS), "--batch-size", "1"],
    { withNoopTask: false },
  );
  // Each runner does its share in rounds of hold + task; allow four times that.
  const boundMs = 60_000 + (4 * vendors * HOLD_MS) / runners;
  const exits = await awaitExits(started, boundMs);
  const ms =
    epochMs() - Math.min(...started.map((process) => process.launchedAt));

  const check = await verifyVendorJob(dataSource);
  const [row] = await dataSource.query(
    `SELECT avg(extract(epoch FROM stoppedat - startedat) * 1000) AS task_ms,
            extract(epoch FROM max(stoppedat) - min(startedat)) * 1000 AS span_ms
     FROM blog.batchjob WHERE status = 1`,
  );
  const problems = [
    ...exits.filter((exit) => exit.code !== 0).map(describeExit),
    ...check.problems.slice(0, 5),
  ];
  return {
    runners,
    ms,
    matching: `${check.matching}/${check.vendors}`,
    problems,
    taskMs: Number(row.task_ms ?? 0),
    // The last task's round still holds and commits after its stoppedat.
    afterFirstMs: Number(row.span_ms ?? Number.NaN) + HOLD_MS,
  };
}
