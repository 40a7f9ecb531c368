import type { DataSource, QueryRunner } from "typeorm";
import type { Logger } from "../Contracts/Logger";
import { TaskTimeoutError } from "../Contracts/taskErrors";
import type { TaskRegistry } from "../Contracts/TaskRegistry";
import type { BatchJob } from "../DataLayer/entities/BatchJob";
import {
  isSerializationFailure,
  SqlState,
  sqlStateOf,
} from "../DataLayer/sqlState";
import type { DeadlineTimer } from "./DeadlineTimer";
import { StopSwitch } from "./StopSwitch";

/** How long a task may take to give up once it was told to stop. */
export const ABANDON_AFTER_MS = 2000;

/**
 * TaskResult is how one run of a task ended:
 * - done: it returned; its writes stand and its lines wait for the commit;
 * - threw: it threw, or ran past its time limit; its writes were undone;
 * - cut-off: the runner is shutting down and stopped it; the round must be
 *   given back to the queue;
 * - abandoned: it ignored being stopped; its connection cannot be trusted
 *   and the round must be rolled back.
 */
export type TaskResult = (
  | { readonly kind: "done"; readonly lines: readonly string[] }
  | { readonly kind: "threw"; readonly error: unknown }
  | { readonly kind: "cut-off" }
  | { readonly kind: "abandoned" }
) & { readonly startedAt: Date; readonly stoppedAt: Date };

/** TaskRun is what runTask needs for one claimed task. */
export interface TaskRun {
  /** Connections beside the round's, for cancelling its statement. */
  readonly sideDataSource: DataSource;
  readonly queryRunner: QueryRunner;
  readonly job: BatchJob;
  readonly registry: TaskRegistry;
  readonly runnerId: string;
  readonly log: Logger;
  readonly limitMs: number;
  /** What the round's tasks share as they run in turn. */
  readonly round: {
    /** The round's statement timeout so far; runTask updates it. */
    statementTimeoutMs: number | undefined;
    /** Keeps the time limits of the round's tasks. */
    readonly deadlines: DeadlineTimer;
  };
  /** Flipped when the runner's shutdown grace has run out. */
  readonly shutdown: StopSwitch;
  readonly now: () => Date;
}

/**
 * runTask runs one claimed task inside a savepoint, so that a task that
 * throws loses only its own writes and the round goes on. Its time limit is
 * kept twice: PostgreSQL cancels any statement that runs past it, and past
 * the limit the runner aborts the task's signal and cancels its query.
 *
 * @throws a serialization failure, which is the round's to retry.
 */
export async function runTask(run: TaskRun): Promise<TaskResult> {
  const { queryRunner, job } = run;
  const startedAt = run.now();
  const lines: string[] = [];
  const savepoint = savepointBeforeFirstQuery(run);

  const stop = new StopSwitch();
  let cancelling: Promise<void> | undefined;
  const halt = (reason: unknown) => {
    if (stop.stopped) return;
    stop.stop(reason);
    cancelling = cancelBackend(run);
  };
  run.round.deadlines.watch(run.limitMs, () =>
    halt(new TaskTimeoutError(job.id, run.limitMs)),
  );
  const unsubscribe = run.shutdown.subscribe(halt);

  const outcome = await settleWithin(execute(run, stop, lines), stop);
  run.round.deadlines.clear();
  unsubscribe();
  const ended = { startedAt, stoppedAt: run.now() };

  if (outcome.kind === "pending") return { kind: "abandoned", ...ended };
  // The cancel must have landed before the round's next statement, or it
  // could cancel that one instead; an idle connection ignores it.
  await cancelling;
  savepoint.restore();
  // A savepoint left unreleased costs nothing: the commit releases them all,
  // and not releasing saves a round trip per task.
  if (!("error" in outcome)) return { kind: "done", lines, ...ended };
  if (run.shutdown.stopped) return { kind: "cut-off", ...ended };
  if (isSerializationFailure(outcome.error) && !stop.stopped) {
    throw outcome.error;
  }
  if (await savepoint.opened()) {
    await queryRunner.query("ROLLBACK TO SAVEPOINT task");
  }
  // PostgreSQL's statement_timeout and our timer race to the same limit;
  // whichever wins, the task ran out of time.
  const timedOut =
    stop.stopped || sqlStateOf(outcome.error) === SqlState.QueryCanceled;
  const error = timedOut
    ? new TaskTimeoutError(job.id, run.limitMs, { cause: outcome.error })
    : outcome.error;
  return { kind: "threw", error, ...ended };
}

/**
 * savepointBeforeFirstQuery opens the task's savepoint, and sets the
 * round's statement timeout to the task's limit, just before the task's
 * first query: a task that never queries costs no round trip. The timeout
 * is set before the savepoint so that it lasts the round, and later tasks
 * with the same limit need not set it again.
 */
function savepointBeforeFirstQuery(run: TaskRun): {
  opened(): Promise<boolean>;
  restore(): void;
} {
  const { queryRunner, round } = run;
  const query = queryRunner.query;
  let opening: Promise<void> | undefined;
  const open = async () => {
    if (round.statementTimeoutMs !== run.limitMs) {
      await query.call(
        queryRunner,
        "SELECT set_config('statement_timeout', $1, true)",
        [String(run.limitMs)],
      );
      round.statementTimeoutMs = run.limitMs;
    }
    await query.call(queryRunner, "SAVEPOINT task");
  };
  queryRunner.query = ((...args: Parameters<QueryRunner["query"]>) => {
    opening ??= open();
    return opening.then(() => query.apply(queryRunner, args));
  }) as QueryRunner["query"];

  return {
    opened: async () => {
      if (opening === undefined) return false;
      await opening;
      return true;
    },
    restore: () => {
      queryRunner.query = query;
    },
  };
}

async function execute(
  run: TaskRun,
  stop: StopSwitch,
  lines: string[],
): Promise<void> {
  const { job } = run;
  const { task, contract } = run.registry.resolve(
    job.className,
    job.contractName,
    job.contractJson,
  );
  await task.execute(contract, {
    taskId: job.id,
    runnerId: run.runnerId,
    manager: run.queryRunner.manager,
    // Made only for a task that looks at it.
    get signal() {
      return stop.signal;
    },
    log: run.log,
    print: (line) => lines.push(line),
  });
}

type Settled =
  | { kind: "settled" }
  | { kind: "settled"; error: unknown }
  | { kind: "pending" };

const SETTLED: Settled = { kind: "settled" };

/**
 * settleWithin waits for a task; once `stop` is flipped, it waits at most
 * ABANDON_AFTER_MS more, so a task that ignores its signal cannot hold the
 * runner, and its locks, forever.
 */
function settleWithin(task: Promise<void>, stop: StopSwitch): Promise<Settled> {
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    stop.subscribe(() => {
      if (settled) return;
      timer = setTimeout(() => resolve({ kind: "pending" }), ABANDON_AFTER_MS);
    });
    task.then(
      () => {
        settled = true;
        clearTimeout(timer);
        resolve(SETTLED);
      },
      (error: unknown) => {
        settled = true;
        clearTimeout(timer);
        resolve({ kind: "settled", error });
      },
    );
  });
}

/**
 * cancelBackend asks PostgreSQL, over another connection, to cancel the
 * statement the task's connection is running, so a stopped task's query
 * ends now rather than at its statement timeout.
 */
async function cancelBackend(run: TaskRun): Promise<void> {
  const connection = (
    run.queryRunner as { databaseConnection?: { processID?: number } }
  ).databaseConnection;
  if (connection?.processID === undefined) return;
  try {
    await run.sideDataSource.query("SELECT pg_cancel_backend($1)", [
      connection.processID,
    ]);
  } catch (error) {
    run.log.warn("Cannot cancel the query of a stopped task", { error });
  }
}
