import { once } from "node:events";
import { finished } from "node:stream/promises";
import type { ClientBase } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { EntityManager } from "typeorm";
import { BatchJob } from "./entities/BatchJob";
import { columnOf, tableOf } from "./identifiers";
import { announceQueued, QUEUED_CHANNEL } from "./queueNotifications";

/** NewTask is a task to queue: what runs it and its contract as JSON. */
export interface NewTask {
  readonly className: string;
  readonly contractName: string;
  readonly contractJson: string;
}

/**
 * Rows per piece written to a COPY: bounds the text held in memory at once
 * when millions are queued.
 */
export const ENQUEUE_CHUNK_SIZE = 10_000;

/**
 * From this many tasks on, they travel by COPY, which the server reads in
 * about half the time an INSERT of bound arrays takes. Below it an INSERT
 * is as quick, and it sends the announcement in the same round trip.
 */
export const COPY_THRESHOLD = 1_000;

/**
 * enqueueTasks queues tasks as pending, announces them to idle runners,
 * and returns how many it queued: many tasks by one COPY, a few by one
 * INSERT of three bound arrays. Run it inside a
 * transaction for all-or-nothing; the announcement is delivered at commit.
 * Queueing one task outside a transaction is one round trip.
 */
export async function enqueueTasks(
  manager: EntityManager,
  tasks: readonly NewTask[],
): Promise<number> {
  if (tasks.length >= COPY_THRESHOLD) {
    await copyTasks(manager, tasks);
    await announceQueued(manager);
  } else {
    await insertTasks(manager, tasks);
  }
  return tasks.length;
}

function columnList(manager: EntityManager): string {
  return (["className", "contractName", "contractJson"] as const)
    .map((property) => columnOf(manager, BatchJob, property))
    .join(", ");
}

async function insertTasks(
  manager: EntityManager,
  tasks: readonly NewTask[],
): Promise<void> {
  const insert =
    `INSERT INTO ${tableOf(manager, BatchJob)} (${columnList(manager)}) ` +
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[])";
  // A data-modifying WITH runs to completion whatever its reader takes.
  await manager.query(
    `WITH queued AS (${insert} RETURNING 1) ` +
      "SELECT pg_notify($4, '') FROM (SELECT 1 FROM queued LIMIT 1) AS one",
    [
      tasks.map((task) => task.className),
      tasks.map((task) => task.contractName),
      tasks.map((task) => task.contractJson),
      QUEUED_CHANNEL,
    ],
  );
}

/**
 * copyTasks streams the tasks to the server by COPY on the manager's own
 * connection, so inside a transaction they commit or roll back with it.
 */
async function copyTasks(
  manager: EntityManager,
  tasks: readonly NewTask[],
): Promise<void> {
  const copy =
    `COPY ${tableOf(manager, BatchJob)} (${columnList(manager)}) ` +
    "FROM STDIN";
  const queryRunner =
    manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const client = (await queryRunner.connect()) as ClientBase;
    const stream = client.query(copyFrom(copy));
    const written = (async () => {
      for (let start = 0; start < tasks.length; start += ENQUEUE_CHUNK_SIZE) {
        const chunk = tasks.slice(start, start + ENQUEUE_CHUNK_SIZE);
        if (!stream.write(copyText(chunk))) await once(stream, "drain");
      }
      stream.end();
    })();
    await Promise.all([written, finished(stream)]);
  } finally {
    if (queryRunner !== manager.queryRunner) await queryRunner.release();
  }
}

/** copyText renders tasks as COPY's text format: tab-separated lines. */
function copyText(tasks: readonly NewTask[]): string {
  let text = "";
  for (const task of tasks) {
    text +=
      copyField(task.className) +
      "\t" +
      copyField(task.contractName) +
      "\t" +
      copyField(task.contractJson) +
      "\n";
  }
  return text;
}

const COPY_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/**
 * copyField escapes what COPY's text format reads specially: the
 * backslash, which JSON uses for its own escapes, and the characters that
 * end a field or a line.
 */
function copyField(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (character) => COPY_ESCAPES[character]);
}
