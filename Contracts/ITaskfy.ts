import type { EntityManager } from "typeorm";
import type { IContract } from "./IContract";
import type { Logger } from "./Logger";

/** TaskContext is what a running task may use besides its contract. */
export interface TaskContext {
  /** The task's row id in `blog.batchjob`. */
  readonly taskId: string;
  /** The name of the runner that holds the task. */
  readonly runnerId: string;
  /**
   * The runner's transaction, which also holds the task's row lock and marks
   * it done: whatever the task writes here commits exactly when the task is
   * recorded as done, and vanishes if it is not.
   */
  readonly manager: EntityManager;
  /** Aborted when the runner must give the task up (shutdown, time limit). */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** print writes one line of the task's output to the runner's stdout. */
  print(line: string): void;
}

/**
 * ITaskfy is a task: code that executes one contract. It throws to fail;
 * the runner then undoes the task's writes and records the error.
 */
export interface ITaskfy<C extends IContract = IContract> {
  execute(contract: C, context: TaskContext): Promise<void>;
}
