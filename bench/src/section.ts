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
  /** Batch sizes (--batch-size) for the throughput section. */
  readonly batchSizes: readonly number[];
  /** Batch sizes also run under READ COMMITTED, for comparison. */
  readonly readCommittedBatchSizes: readonly number[];
  /** Tasks drained per throughput run. */
  readonly throughputTasks: number;
  /** Single tasks timed in the wake-up latency section. */
  readonly latencySamples: number;
  /** Finished rows placed under the claim in the growth section. */
  readonly growthFinishedRows: readonly number[];
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
}

/** QUICK is `npm run bench`: a few minutes, also run in CI. */
export const QUICK: Plan = {
  full: false,
  enqueueSizes: [20_000],
  processCounts: [1, 4, 20],
  batchSizes: [1, 100],
  readCommittedBatchSizes: [1],
  throughputTasks: 1_000,
  latencySamples: 20,
  growthFinishedRows: [0, 100_000],
  sustainedTasks: 20_000,
  vendorScales: [1],
  vendorRunners: [5, 20],
  startupTrials: 5,
  commitSeconds: 5,
};

/** FULL is `npm run bench -- --full`, for a quiet machine. */
export const FULL: Plan = {
  full: true,
  enqueueSizes: [100_000, 1_000_000],
  processCounts: [1, 4, 20],
  batchSizes: [1, 10, 100],
  readCommittedBatchSizes: [1, 10, 100],
  throughputTasks: 20_000,
  latencySamples: 50,
  growthFinishedRows: [0, 1_000_000, 10_000_000],
  sustainedTasks: 1_000_000,
  vendorScales: [1, 100],
  vendorRunners: [1, 5, 20],
  startupTrials: 5,
  commitSeconds: 5,
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
