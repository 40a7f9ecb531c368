import { toError } from "../Contracts/errors";
import type { BatchJob } from "../DataLayer/entities/BatchJob";
import type { TaskOutcome } from "../DataLayer/commitOutcomes";
import { TaskStatus } from "../DataLayer/TaskStatus";
import { RetryPolicy, retryDelayMs, shouldRetry } from "./retryPolicy";
import type { TaskResult } from "./runTask";

/** The longest error text kept in `lasterror`, stack included. */
export const MAX_ERROR_TEXT = 4000;

/** EndedTask is a task of a round with the outcome to record for it. */
export interface EndedTask {
  readonly job: BatchJob;
  readonly outcome: TaskOutcome;
  /** Its output, printed once the round commits. */
  readonly lines: readonly string[];
}

/**
 * concludeTask turns a task's result into its outcome: done, back to
 * pending until its retry is due, or failed for good.
 */
export function concludeTask(
  job: BatchJob,
  attempt: number,
  result: Extract<TaskResult, { kind: "done" | "threw" }>,
  policy: RetryPolicy,
): EndedTask {
  const { startedAt, stoppedAt } = result;
  if (result.kind === "done") {
    const outcome: TaskOutcome = {
      id: job.id,
      status: TaskStatus.Done,
      startedAt,
      stoppedAt,
      error: null,
      notBefore: null,
    };
    return { job, outcome, lines: result.lines };
  }
  const error = failureText(result.error);
  const retry = shouldRetry(result.error, attempt, job.maxAttempts);
  const outcome: TaskOutcome = {
    id: job.id,
    status: retry ? TaskStatus.Pending : TaskStatus.Failed,
    startedAt,
    stoppedAt,
    error,
    notBefore: retry
      ? new Date(stoppedAt.getTime() + retryDelayMs(policy, attempt))
      : null,
  };
  return { job, outcome, lines: NO_LINES };
}

const NO_LINES: readonly string[] = [];

/**
 * giveUpTask fails a task claimed more often than it may be: each runner
 * that took it stopped before recording an outcome, which is what a task
 * that kills its runner looks like.
 */
export function giveUpTask(
  job: BatchJob,
  attempt: number,
  now: Date,
): EndedTask {
  const previous =
    job.lastError === null ? "" : `\nLast recorded error: ${job.lastError}`;
  const error =
    `AttemptsExhaustedError: Task ${job.id} was claimed ${attempt} times and may run ` +
    `${job.maxAttempts}; the runners that held it stopped before recording an ` +
    `outcome (killed, out of memory or crashed)${previous}`;
  const outcome = {
    id: job.id,
    status: TaskStatus.Failed,
    startedAt: now,
    stoppedAt: now,
    error: error.slice(0, MAX_ERROR_TEXT),
    notBefore: null,
  };
  return { job, outcome, lines: [] };
}

/** failureText is an error's name, message and stack, bounded in length. */
function failureText(thrown: unknown): string {
  const error = toError(thrown);
  const text = error.stack ?? `${error.name}: ${error.message}`;
  return text.length > MAX_ERROR_TEXT
    ? `${text.slice(0, MAX_ERROR_TEXT)}…`
    : text;
}
