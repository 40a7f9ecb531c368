/** TaskEnd is how a task's attempt ended, as counted in metrics. */
export type TaskEnd = "done" | "failed" | "retried";

/**
 * RunnerMetrics receives what a runner does. The runner calls it on every
 * round, so each method only bumps in-memory counters.
 */
export interface RunnerMetrics {
  taskEnded(taskClass: string, end: TaskEnd, durationSeconds: number): void;
  claimed(latencySeconds: number): void;
  serializationRetry(): void;
  roundError(): void;
  tasksInHand(count: number): void;
}

/** A RunnerMetrics that records nothing, for runners without metrics. */
export const noMetrics: RunnerMetrics = {
  taskEnded: () => undefined,
  claimed: () => undefined,
  serializationRetry: () => undefined,
  roundError: () => undefined,
  tasksInHand: () => undefined,
};
