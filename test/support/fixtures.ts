import * as path from "node:path";
import type { DataSource } from "typeorm";
import { enqueueTasks, NewTask } from "../../DataLayer/enqueue";
import { BatchJob } from "../../DataLayer/entities/BatchJob";
import { migrate } from "../../DataLayer/migrate";
import { loadSample } from "../../DataLayer/sample/loadSample";
import { TaskStatus } from "../../DataLayer/TaskStatus";

/** The real AdventureWorks purchasing rows, beside the checkout. */
export const ADVENTUREWORKS_DIR =
  process.env.ADVENTUREWORKS_DIR ??
  path.resolve(__dirname, "..", "..", "..", "shared", "adventureworks");

/** The checkout's root, where dist/ and package.json are. */
export const CHECKOUT = path.resolve(__dirname, "..", "..");

/** Text that SQL quoting must carry through unchanged. */
export const AWKWARD_TEXT =
  'it\'s a "test" \\ with $$ and $1,\n{braces}, NULL and ünïcode';

/** loadAdventureWorks loads the real purchasing rows into a migrated database. */
export async function loadAdventureWorks(
  dataSource: DataSource,
): Promise<void> {
  await migrate(dataSource);
  await loadSample(dataSource, { kind: "folder", dir: ADVENTUREWORKS_DIR });
}

/**
 * noteTask is a task row for the tests' NoteTask, whose contract carries
 * one note.
 */
export function noteTask(note: string): NewTask {
  return {
    className: "NoteTask",
    contractName: "NoteContract",
    contractJson: JSON.stringify({ Note: note }),
  };
}

/** queue adds tasks as the client would, returning nothing. */
export async function queue(
  dataSource: DataSource,
  tasks: readonly NewTask[],
): Promise<void> {
  await enqueueTasks(dataSource.manager, tasks);
}

/** tasksByStatus reads every task row, ordered by id. */
export function allTasks(dataSource: DataSource): Promise<BatchJob[]> {
  return dataSource.getRepository(BatchJob).find({ order: { id: "ASC" } });
}

/** pendingCount counts the tasks still pending. */
export function pendingCount(dataSource: DataSource): Promise<number> {
  return dataSource
    .getRepository(BatchJob)
    .countBy({ status: TaskStatus.Pending });
}

/** lockWaiters counts the database's sessions waiting for a row lock. */
export async function lockWaiters(dataSource: DataSource): Promise<number> {
  const [row] = await dataSource.query(
    `SELECT count(*)::int AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`,
  );
  return row.waiting;
}

/**
 * waitFor polls `condition` until it holds, failing after `timeoutMs`. Tests
 * wait on conditions, never on fixed sleeps.
 */
export async function waitFor(
  what: string,
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
