import { BatchError } from "../Contracts/errors";

/**
 * ClaimLostError: a runner tried to record tasks whose rows it no longer
 * holds. It is an error of the runner's machinery, never of a task.
 */
export class ClaimLostError extends BatchError {
  constructor(
    readonly taskIds: readonly string[],
    readonly recorded: number,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot record tasks ${taskIds.join(", ")}: expected ${taskIds.length} held rows, updated ${recorded}`,
      options,
    );
  }
}
