import type { BenchServer } from "./server";
import type { Series } from "./svg";
import type { Table } from "./table";

/** Plan holds the sizes of one run: the quick form or --full. */
export interface Plan {
  readonly full: boolean;
  /** Task counts for the enqueue section. */
  readonly enqueueSizes: readonly number[];
  /** Runner process counts for the throughput section. */
  readonly processCounts: readonly number[];
  /** Our runner's settings in the throughput section. */
  readonly runnerConfigs: readonly RunnerConfig[];
  /** Tasks drained per throughput run of one task per claim. */
  readonly throughputTasks: number;
  /** Tasks drained per run that claims in batches: many more, to time. */
  readonly batchedThroughputTasks: number;
  /** Our runner's settings in the warm fleet section. */
  readonly fleetRunnerConfigs: readonly RunnerConfig[];
  /** Tasks per process that warm a fleet up before it is timed. */
  readonly fleetWarmupTasks: number;
  /** Single tasks timed in the wake-up latency section. */
  readonly latencySamples: number;
  /**
   * Rows placed under the claim in the growth section: finished ones,
   * then as many waiting to retry.
   */
  readonly growthRowsBeneath: readonly number[];
  /** Tasks of the sustained run in the growth section. */
  readonly sustainedTasks: number;
  /** Scale factors of the generated AdventureWorks sample. */
  readonly vendorScales: readonly number[];
  /** Runner counts for the vendor job. */
  readonly vendorRunners: readonly number[];
  /** Runner launches timed in the start-up section. */
  readonly startupTrials: number;
  /** Seconds of the commit-rate loop. */
  readonly commitSeconds: number;
  /**
   * Passes over the throughput and warm fleet configurations; each
   * reports its median pass. One pass moves by a third and more on a host
   * that steals CPU.
   */
  readonly passes: number;
}

/** RunnerConfig is one setting of our runner in the throughput section. */
export interface RunnerConfig {
  readonly batchSize: number;
  readonly concurrency: number;
  readonly isolation: "repeatable-read" | "read-committed";
}

const RR: RunnerConfig["isolation"] = "repeatable-read";
const RC: RunnerConfig["isolation"] = "read-committed";

/** QUICK is `npm run bench`: a few minutes, also run in CI. */
export const QUICK: Plan = {
  full: false,
  enqueueSizes: [100_000],
  processCounts: [1, 4, 20],
  runnerConfigs: [
    { batchSize: 1, concurrency: 1, isolation: RR },
    { batchSize: 1, concurrency: 1, isolation: RC },
    { batchSize: 1, concurrency: 10, isolation: RR },
    { batchSize: 100, concurrency: 1, isolation: RR },
    // With 20 processes, 1,000 in two lanes holds 40,000 tasks at once,
    // and claims pass over ever more of them as the queue drains; 500 in
    // one lane holds 10,000.
    { batchSize: 500, concurrency: 1, isolation: RR },
    { batchSize: 1000, concurrency: 2, isolation: RR },
    { batchSize: 1000, concurrency: 2, isolation: RC },
  ],
  throughputTasks: 3_000,
  // Enough for batched runs to reach their pace: at 40,000, warming up and
  // the last round weighed on the rate.
  batchedThroughputTasks: 100_000,
  fleetRunnerConfigs: [
    { batchSize: 100, concurrency: 1, isolation: RR },
    { batchSize: 500, concurrency: 1, isolation: RR },
    { batchSize: 1000, concurrency: 2, isolation: RR },
  ],
  fleetWarmupTasks: 2_000,
  latencySamples: 20,
  growthRowsBeneath: [0, 100_000],
  sustainedTasks: 20_000,
  vendorScales: [1],
  vendorRunners: [5, 20],
  startupTrials: 5,
  commitSeconds: 5,
  passes: 3,
};

/**
 * SMOKE is `npm run bench -- --smoke`, which CI runs: every section at
 * sizes too small to mean much, to show that the bench still runs and
 * prints its figures.
 */
export const SMOKE: Plan = {
  full: false,
  enqueueSizes: [2_000],
  processCounts: [1, 4],
  runnerConfigs: [
    { batchSize: 1, concurrency: 1, isolation: RR },
    { batchSize: 100, concurrency: 2, isolation: RR },
  ],
  throughputTasks: 200,
  batchedThroughputTasks: 2_000,
  fleetRunnerConfigs: [{ batchSize: 100, concurrency: 2, isolation: RR }],
  fleetWarmupTasks: 200,
  latencySamples: 5,
  growthRowsBeneath: [0, 10_000],
  sustainedTasks: 2_000,
  vendorScales: [1],
  vendorRunners: [5],
  startupTrials: 2,
  commitSeconds: 1,
  passes: 1,
};

/** FULL is `npm run bench -- --full`, for a quiet machine. */
export const FULL: Plan = {
  full: true,
  enqueueSizes: [100_000, 1_000_000],
  processCounts: [1, 4, 20],
  runnerConfigs: [
    ...[1, 10, 100, 500, 1000].flatMap((batchSize) =>
      [RR, RC].flatMap((isolation: RunnerConfig["isolation"]) =>
        [1, 2].map((concurrency) => ({ batchSize, concurrency, isolation })),
      ),
    ),
    { batchSize: 1, concurrency: 10, isolation: RR },
  ],
  throughputTasks: 20_000,
  batchedThroughputTasks: 400_000,
  fleetRunnerConfigs: [10, 100, 500, 1000].flatMap((batchSize) =>
    [1, 2].map((concurrency) => ({ batchSize, concurrency, isolation: RR })),
  ),
  fleetWarmupTasks: 5_000,
  latencySamples: 50,
  growthRowsBeneath: [0, 1_000_000, 10_000_000],
  sustainedTasks: 1_000_000,
  vendorScales: [1, 100],
  vendorRunners: [1, 5, 20],
  startupTrials: 5,
  commitSeconds: 5,
  passes: 3,
};

/** SectionContext is what a section runs with. */
export interface SectionContext {
  readonly server: BenchServer;
  readonly plan: Plan;
  /** Prints one progress line on stderr. */
  progress(line: string): void;
}

/** SectionReport is what a section found: tables to print, data to keep. */
export interface SectionReport {
  readonly tables: readonly Table[];
  readonly data: unknown;
  /** Lines for the throughput chart, when the section draws one. */
  readonly series?: readonly Series[];
}

/** Section is one measurement. */
export interface Section {
  readonly name: string;
  /** Runs only with --full, or when named with --only. */
  readonly fullOnly?: boolean;
  run(context: SectionContext): Promise<SectionReport>;
}
