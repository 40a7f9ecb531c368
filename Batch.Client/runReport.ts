import type { DataSource } from "typeorm";
import { countTasks, TaskCounts } from "../DataLayer/countTasks";
import { BatchJob } from "../DataLayer/entities/BatchJob";
import { BatchJobAttempt } from "../DataLayer/entities/BatchJobAttempt";
import { SummedSalesResult } from "../DataLayer/entities/SummedSalesResult";
import { TaskStatus } from "../DataLayer/TaskStatus";
import { formatDuration } from "./followRun";

/** RunReport is what a finished vendor job produced and who did it. */
export interface RunReport {
  readonly counts: TaskCounts;
  readonly vendors: readonly VendorLine[];
  readonly runners: readonly { runnerId: string; tasks: number }[];
  readonly failures: readonly {
    taskId: string;
    className: string;
    error: string;
  }[];
  /** From the first task's start to the last task's stop; 0 if none ran. */
  readonly wallTimeMs: number;
  /** Attempts beyond each task's first: retries and crashed runners. */
  readonly retries: number;
}

/** VendorLine is one vendor's result, as the task printed it. */
export interface VendorLine {
  readonly vendorId: number;
  readonly total: string;
  readonly items: number;
  readonly runnerId: string;
}

/** readRunReport gathers the report from the task and result tables. */
export async function readRunReport(
  dataSource: DataSource,
): Promise<RunReport> {
  const counts = await countTasks(dataSource);
  const vendors = await dataSource
    .createQueryBuilder(SummedSalesResult, "result")
    .select([
      "result.vendorId",
      "result.total",
      "result.items",
      "result.runnerId",
    ])
    .orderBy("result.vendorId", "ASC")
    .getMany();

  const runners = await dataSource
    .createQueryBuilder(BatchJob, "job")
    .select("job.runnerId", "runnerId")
    .addSelect("count(*)::int", "tasks")
    .where("job.status <> :pending", { pending: TaskStatus.Pending })
    .groupBy("job.runnerId")
    .orderBy("job.runnerId", "ASC")
    .getRawMany<{ runnerId: string; tasks: number }>();

  const failures = await dataSource
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :failed", { failed: TaskStatus.Failed })
    .orderBy("job.id", "ASC")
    .getMany();

  const { wallTimeMs } = (await dataSource
    .createQueryBuilder(BatchJob, "job")
    .select(
      "coalesce(extract(epoch from max(job.stoppedAt) - min(job.startedAt)) * 1000, 0)::float8",
      "wallTimeMs",
    )
    .getRawOne()) as { wallTimeMs: number };

  const { retries } = (await dataSource
    .createQueryBuilder(BatchJobAttempt, "attempt")
    .select("coalesce(sum(attempt.attempts - 1), 0)::int", "retries")
    .getRawOne()) as { retries: number };

  return {
    counts,
    retries,
    vendors,
    runners,
    failures: failures.map((job) => ({
      taskId: job.id,
      className: job.className,
      error: (job.lastError ?? "").split("\n")[0],
    })),
    wallTimeMs,
  };
}

/** formatRunReport writes the report for a person to read. */
export function formatRunReport(report: RunReport): string {
  const lines = report.vendors.map(
    (vendor) =>
      `VendorId: ${vendor.vendorId}, Total: ${vendor.total}, Items ${vendor.items}. (${vendor.runnerId})`,
  );
  const { counts } = report;
  lines.push(
    "",
    `Tasks: ${counts.total} queued, ${counts.done} done, ${counts.failed} failed, ${counts.pending} pending`,
    `Wall time: ${formatDuration(report.wallTimeMs)}`,
    `Retries: ${report.retries} attempts beyond each task's first`,
    `Tasks per runner (${report.runners.length} runners):`,
    ...report.runners.map((runner) => `  ${runner.runnerId}: ${runner.tasks}`),
  );
  if (report.failures.length > 0) {
    lines.push("Failed tasks:");
    for (const failure of report.failures) {
      lines.push(`  #${failure.taskId} ${failure.className}: ${failure.error}`);
    }
  }
  return lines.join("\n");
}
