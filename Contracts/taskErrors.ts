import { BatchError } from "./errors";

/**
 * NonRetryableError: a task throws it (or a subclass) when trying again
 * cannot help, such as input that will never be valid. The task fails at
 * once instead of spending its remaining attempts.
 */
export class NonRetryableError extends BatchError {}

/** TaskTimeoutError: the task ran past its time limit and was aborted. */
export class TaskTimeoutError extends BatchError {
  constructor(
    readonly taskId: string,
    readonly limitMs: number,
    options?: { cause?: unknown },
  ) {
    super(`Task ${taskId} ran past its time limit of ${limitMs} ms`, options);
  }
}
