import type { ClientBase, QueryResult } from "pg";
import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from "typeorm";
import {
  IsolationLevel,
  markTransactionClosed,
  openTransaction,
} from "./beginTransaction";
import type { RoundCommit } from "./commitOutcomes";
import { BatchJob } from "./entities/BatchJob";
import { sendStatements } from "./sendStatements";
import { TaskStatus } from "./TaskStatus";

/**
 * Which of the rows that a transaction has locked or changed since they were
 * last written (their `xmax` is set) a claim passes over:
 * - "touched": all of them. That is what a task looks like that a peer holds
 *   or has just finished, and those are the rows whose lock REPEATABLE READ
 *   refuses (40001), so such a claim rarely collides. A row whose last claim
 *   was rolled back looks the same until someone locks it again.
 * - "held": those whose transaction had not ended when the snapshot was
 *   taken, or began after it: the tasks peers are holding. A row whose
 *   holder rolled back is taken.
 * Callers must claim passing over nothing now and then: a row changed by a
 * subtransaction, or marked by several lockers at once, may look held.
 */
export type PassOver = "touched" | "held";

/** ClaimScope narrows which pending tasks a claim may take. */
export interface ClaimScope {
  /** Take tasks from this id upwards first, then those below it. */
  readonly from?: string;
  /** Rows with `xmax` set to pass over; by default none. */
  readonly passOver?: PassOver;
  /**
   * Take fresh tasks only, not the retries that are due: for a caller that
   * knows none is due, it spares the claim a second walk, and the server
   * a statement twice as long to parse and plan.
   */
  readonly freshOnly?: boolean;
  /**
   * Open the transaction the claim runs in, at this level, in the claim's
   * own round trip instead of one before it. The manager's query runner
   * must have none open.
   */
  readonly begin?: IsolationLevel;
  /**
   * Commit the round the manager's query runner has open, on the same
   * connection, ahead of `begin` in the claim's round trip: a runner that
   * claims again at once spares a round trip per round. Once the claim
   * has ended, thrown or not, the commit tells whether it ran.
   */
  readonly commitFirst?: RoundCommit;
}

/**
 * claimPendingTasks locks up to `limit` pending tasks that are due and
 * returns them: first the retries that are due, earliest first, then fresh
 * tasks (those not waiting to retry), with `from` those from that id
 * upwards and then, if too few, those below it, each part in id order;
 * with `freshOnly`, fresh tasks alone.
 * The row lock is the claim: rows that another runner holds are skipped,
 * and the lock lasts exactly as long as the caller's transaction, so a
 * runner that dies frees its tasks at once. Fresh tasks and waiting ones
 * lie in two indexes, so tasks that are not due yet cost a claim nothing.
 *
 * Under REPEATABLE READ this throws a serialization failure (40001) when a
 * row it is about to lock was changed by a transaction that committed after
 * the snapshot; the caller retries the round. Runners that all scan from
 * the lowest id meet exactly there, at the rows their peers are finishing;
 * runners that start from random points (`from`), and pass over rows
 * that peers hold or have touched (`passOver`), rarely meet at all.
 */
export async function claimPendingTasks(
  manager: EntityManager,
  limit: number,
  scope: ClaimScope = {},
): Promise<BatchJob[]> {
  const { from, passOver, freshOnly = false, begin, commitFirst } = scope;
  const above = await claimQuery(manager, limit, from, ">=", {
    passOver,
    dueRetries: !freshOnly,
    begin,
    commitFirst,
  });
  if (above.length === limit || from === undefined) return above;
  // Due retries were offered in the first part.
  const below = await claimQuery(manager, limit - above.length, from, "<", {
    passOver,
    dueRetries: false,
  });
  return [...above, ...below];
}

/**
 * A claim statement built once by TypeORM's query builder, and one setter
 * per column that moves a row's value onto the entity. Building and
 * hydrating through the builder each round cost more than the claim itself
 * at small batches.
 */
interface ClaimStatement {
  readonly sql: string;
  readonly setters: readonly ((
    row: Record<string, unknown>,
    job: BatchJob,
  ) => void)[];
}

const statements = new WeakMap<object, Map<string, ClaimStatement>>();

/** What one claim query takes besides its limit and range. */
interface ClaimParts {
  readonly passOver: PassOver | undefined;
  /** Due retries first, then fresh tasks; else fresh tasks alone. */
  readonly dueRetries: boolean;
  readonly begin?: IsolationLevel;
  readonly commitFirst?: RoundCommit;
}

async function claimQuery(
  manager: EntityManager,
  limit: number,
  from: string | undefined,
  side: ">=" | "<",
  { passOver, dueRetries, begin, commitFirst }: ClaimParts,
): Promise<BatchJob[]> {
  const statement = claimStatement(
    manager,
    limit,
    from === undefined ? "all" : side,
    passOver,
    dueRetries,
  );
  const parameters: Record<string, unknown> = {
    pending: TaskStatus.Pending,
  };
  if (from !== undefined) parameters.from = from;
  const [sql, values] = manager.connection.driver.escapeQueryWithParameters(
    statement.sql,
    parameters,
  );
  const rows = await sendClaim(manager, { begin, commitFirst }, sql, values);
  return rows.map((row) => {
    const job = new BatchJob();
    for (const set of statement.setters) set(row, job);
    return job;
  });
}

/**
 * The claim must walk the pending index in id order and stop at its limit,
 * whatever the planner estimates. It keeps no statistics on `xmax`, and its
 * guess that one row in 200 has `xmax = 0` makes a batch of 1,000, or any
 * batch once statistics lag a large enqueue, look cheaper read whole and
 * sorted: every pending row in each claim, 50 ms at 100,000 pending
 * instead of under 1. With sorting off, only walks in order are left.
 */
const WALK_IN_ORDER = "SET LOCAL enable_sort = off";
/** The rest of the round's transaction plans as the server is set to. */
const PLAN_AS_BEFORE = "SET LOCAL enable_sort TO DEFAULT";

/**
 * sendClaim runs the claim in one simple-protocol query that carries
 * several statements but no parameters (the values go in as literals quoted
 * by the driver): with `commitFirst`, the statements that commit the
 * previous round first; with `begin`, the one that opens the manager's
 * transaction at that level; and around the claim those that keep its plan
 * a walk in order. A manager without a query runner has no transaction to
 * set the plan in, and runs the claim alone.
 */
async function sendClaim(
  manager: EntityManager,
  { begin, commitFirst }: Pick<ClaimParts, "begin" | "commitFirst">,
  sql: string,
  values: readonly unknown[],
): Promise<Record<string, unknown>[]> {
  const { queryRunner } = manager;
  if (queryRunner === undefined) {
    if (begin !== undefined) {
      throw new TypeError(
        "Cannot begin the claim's transaction: the manager has no query runner",
      );
    }
    return (await manager.query(sql, values)) as Record<string, unknown>[];
  }
  if (commitFirst !== undefined && begin === undefined) {
    throw new TypeError(
      "Cannot commit ahead of a claim that begins no transaction of its own",
    );
  }
  const closing = commitFirst?.statements ?? [];
  // Either transaction, the committed round's or the claim's, is open
  // when the query fails: the caller rolls back as after any failure.
  if (commitFirst !== undefined) markTransactionClosed(queryRunner);
  const opening =
    begin === undefined ? [] : [openTransaction(queryRunner, begin)];
  const client = (await queryRunner.connect()) as ClientBase;
  const statements = [
    ...closing,
    ...opening,
    WALK_IN_ORDER,
    inlineValues(client, sql, values),
    PLAN_AS_BEFORE,
  ];
  const completedTags: string[] = [];
  let results: QueryResult[];
  try {
    results = await sendStatements(
      statements.join("; "),
      client,
      completedTags,
    );
  } catch (error) {
    throw commitFirst?.failed(error, completedTags) ?? error;
  }
  commitFirst?.succeeded();
  return results[closing.length + opening.length + 1].rows as Record<
    string,
    unknown
  >[];
}

/** inlineValues puts each `$n` placeholder's value in as a literal. */
function inlineValues(
  client: ClientBase,
  sql: string,
  values: readonly unknown[],
): string {
  return sql.replace(/\$(\d+)/g, (placeholder, position: string) => {
    const value = values[Number(position) - 1];
    if (typeof value !== "string" && typeof value !== "number") {
      throw new TypeError(`Cannot inline ${placeholder} of the claim`);
    }
    return client.escapeLiteral(String(value));
  });
}

/** The snapshot's next transaction id, epoch included; read once. */
const SNAPSHOT_NEXT_XID =
  "(SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint)";

/**
 * fullTransactionId is SQL for a 32-bit transaction id (`xid`) as a full
 * one (`xid8`, epoch included), given a full id within 2^31 of it: the
 * signed 32-bit distance from that one restores the epoch.
 */
export function fullTransactionId(xid: string, near: string): string {
  const distance =
    `((${xid})::text::bigint - ((${near}) & 4294967295) + 6442450944) ` +
    "% 4294967296 - 2147483648";
  return `GREATEST(0, (${near}) + ${distance})::text::xid8`;
}

/**
 * The claim's filter for each PassOver. xmax is PostgreSQL's system column:
 * zero on a row version that no transaction has locked, updated or tried to
 * since it was written, else that transaction's id.
 */
const PASS_OVER: Record<PassOver, string> = {
  touched: "job.xmax = 0",
  held:
    "(job.xmax = 0 OR pg_visible_in_snapshot(" +
    // A locker lies within 2^31 of the snapshot's next id.
    `${fullTransactionId("job.xmax", SNAPSHOT_NEXT_XID)}, ` +
    "(SELECT pg_current_snapshot())))",
};

function claimStatement(
  manager: EntityManager,
  limit: number,
  range: ">=" | "<" | "all",
  passOver: PassOver | undefined,
  dueRetries: boolean,
): ClaimStatement {
  let cache = statements.get(manager.connection);
  if (cache === undefined) {
    cache = new Map();
    statements.set(manager.connection, cache);
  }
  const key = `${limit} ${range} ${passOver} ${dueRetries}`;
  const cached = cache.get(key);
  if (cached !== undefined) return cached;

  const fresh = lockPending(manager, "fresh", passOver);
  if (range !== "all") fresh.andWhere(`job.id ${range} :from`);
  // TypeORM writes a LIMIT only as a number; PostgreSQL takes the LIMIT
  // after the lock clause too, so it is added at the end.
  let sql: string;
  if (!dueRetries) {
    sql = `${fresh.getQuery()} LIMIT ${limit}`;
  } else {
    const due = lockPending(manager, "due", passOver);
    sql =
      `WITH due AS (${due.getQuery()} LIMIT ${limit}), ` +
      `fresh AS (${fresh.getQuery()} ` +
      `LIMIT ${limit} - (SELECT count(*) FROM due)) ` +
      "SELECT * FROM due UNION ALL SELECT * FROM fresh";
  }

  const { driver } = manager.connection;
  const metadata = manager.connection.getMetadata(BatchJob);
  const statement: ClaimStatement = {
    sql,
    setters: metadata.columns.map((column) => {
      // The builder's alias for a selected column: "job_" + its name.
      const alias = `job_${column.databaseName}`;
      return (row, job) =>
        column.setEntityValue(
          job,
          driver.prepareHydratedValue(row[alias], column),
        );
    }),
  };
  // Limits are few (one per batch size), so the cache stays small.
  cache.set(key, statement);
  return statement;
}

/**
 * lockPending selects the tasks of one part of the queue that the claim's
 * filter lets through, locking each as it is read and skipping those
 * already locked.
 */
function lockPending(
  manager: EntityManager,
  part: QueuePart,
  passOver: PassOver | undefined,
): SelectQueryBuilder<BatchJob> {
  const query = claimable(manager, part);
  if (passOver !== undefined) query.andWhere(PASS_OVER[passOver]);
  return query.setLock("pessimistic_write").setOnLocked("skip_locked");
}

/**
 * The two parts of the queue that claims take from, each through its own
 * index: fresh tasks, and retries that are due.
 */
export type QueuePart = "fresh" | "due";

/**
 * claimable selects, as "job", the tasks of one part of the queue that a
 * claim may take, in the order it takes them: fresh tasks by id, due
 * retries earliest first. Its `:pending` is left for the caller to set.
 */
export function claimable(
  manager: EntityManager,
  part: QueuePart,
): SelectQueryBuilder<BatchJob> {
  const query = manager
    .createQueryBuilder(BatchJob, "job")
    .where("job.status = :pending");
  return part === "fresh"
    ? query.andWhere("job.notBefore IS NULL").orderBy("job.id", "ASC")
    : query.andWhere("job.notBefore <= now()").orderBy("job.notBefore", "ASC");
}

/** IdRange is the lowest and highest id of the pending tasks. */
export interface IdRange {
  readonly lowest: bigint;
  readonly highest: bigint;
}

/** QueueOutlook is what a runner reads now and then to place its claims. */
export interface QueueOutlook {
  /** The range of fresh task ids, where claims start; none when empty. */
  readonly ids: IdRange | undefined;
  /** As msUntilNextRetry tells it. */
  readonly msUntilNextRetry: number | undefined;
}

/**
 * readQueueOutlook reads the range of fresh task ids and when the next
 * retry falls due, in one statement: two probes of the fresh index and one
 * of the waiting index.
 */
export async function readQueueOutlook(
  manager: EntityManager,
): Promise<QueueOutlook> {
  const row = (await manager
    .createQueryBuilder(BatchJob, "job")
    .select("min(job.id)::text", "lowest")
    .addSelect("max(job.id)::text", "highest")
    .addSelect(nextRetryWait, "waitMs")
    .where("job.status = :pending", { pending: TaskStatus.Pending })
    .andWhere("job.notBefore IS NULL")
    .getRawOne()) as {
    lowest: string | null;
    highest: string | null;
    waitMs: number | null;
  };
  const ids =
    row.lowest === null || row.highest === null
      ? undefined
      : { lowest: BigInt(row.lowest), highest: BigInt(row.highest) };
  return { ids, msUntilNextRetry: row.waitMs ?? undefined };
}

/**
 * msUntilNextRetry tells how long until the earliest task waiting to retry
 * becomes due, zero or less when one is due already, or undefined when
 * none waits: a queue with such tasks is not empty yet.
 */
export async function msUntilNextRetry(
  manager: EntityManager,
): Promise<number | undefined> {
  const row = (await nextRetryWait(
    manager.createQueryBuilder(),
  ).getRawOne()) as { waitMs: number | null } | undefined;
  return row?.waitMs ?? undefined;
}

/**
 * nextRetryWait makes `query` select, as `waitMs`, the milliseconds until
 * the earliest retry falls due: one probe of the waiting index.
 */
function nextRetryWait(
  query: SelectQueryBuilder<ObjectLiteral>,
): SelectQueryBuilder<BatchJob> {
  return query
    .select(
      "ceil(extract(epoch from min(waiting.notBefore) - now()) * 1000)::float8",
      "waitMs",
    )
    .from(BatchJob, "waiting")
    .where("waiting.status = :pending", { pending: TaskStatus.Pending })
    .andWhere("waiting.notBefore IS NOT NULL");
}
