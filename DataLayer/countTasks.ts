import type { DataSource } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { TaskStatus } from "./TaskStatus";

/** TaskCounts are the task table's rows by status. */
export interface TaskCounts {
  readonly total: number;
  readonly pending: number;
  readonly done: number;
  readonly failed: number;
}

/** countTasks counts the task table's rows by status, in one query. */
export async function countTasks(dataSource: DataSource): Promise<TaskCounts> {
  const rows = await dataSource
    .createQueryBuilder(BatchJob, "job")
    .select("job.status", "status")
    .addSelect("count(*)::int", "count")
    .groupBy("job.status")
    .getRawMany<{ status: number; count: number }>();

  const byStatus = new Map(rows.map((row) => [row.status, row.count]));
  const pending = byStatus.get(TaskStatus.Pending) ?? 0;
  const done = byStatus.get(TaskStatus.Done) ?? 0;
  const failed = byStatus.get(TaskStatus.Failed) ?? 0;
  return { total: pending + done + failed, pending, done, failed };
}
