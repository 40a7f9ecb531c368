import type { EntityManager } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { QUEUED_CHANNEL } from "./queueNotifications";

/** NewTask is a task to queue: what runs it and its contract as JSON. */
export interface NewTask {
  readonly className: string;
  readonly contractName: string;
  readonly contractJson: string;
}

/** Rows per INSERT; bounds one statement's size when millions are queued. */
export const ENQUEUE_CHUNK_SIZE = 10_000;

/**
 * enqueueTasks queues tasks as pending with one INSERT per chunk of rows,
 * their values bound as three arrays, announces them to idle runners, and
 * returns how many it queued. Run it inside a transaction for
 * all-or-nothing; the announcement is delivered at commit. The last chunk's
 * INSERT makes the announcement itself, so queueing one task outside a
 * transaction is one round trip.
 */
export async function enqueueTasks(
  manager: EntityManager,
  tasks: readonly NewTask[],
): Promise<number> {
  const table = tableOf(manager, BatchJob);
  const columns = (["className", "contractName", "contractJson"] as const)
    .map((property) => columnOf(manager, BatchJob, property))
    .join(", ");
  const insert =
    `INSERT INTO ${table} (${columns}) ` +
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[])";
  // A data-modifying WITH runs to completion whatever its reader takes.
  const insertAndAnnounce =
    `WITH queued AS (${insert} RETURNING 1) ` +
    "SELECT pg_notify($4, '') FROM (SELECT 1 FROM queued LIMIT 1) AS one";

  for (let start = 0; start < tasks.length; start += ENQUEUE_CHUNK_SIZE) {
    const chunk = tasks.slice(start, start + ENQUEUE_CHUNK_SIZE);
    const values = [
      chunk.map((task) => task.className),
      chunk.map((task) => task.contractName),
      chunk.map((task) => task.contractJson),
    ];
    const last = start + ENQUEUE_CHUNK_SIZE >= tasks.length;
    if (last)
      await manager.query(insertAndAnnounce, [...values, QUEUED_CHANNEL]);
    else await manager.query(insert, values);
  }
  return tasks.length;
}
