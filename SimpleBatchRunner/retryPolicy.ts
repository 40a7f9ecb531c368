import { NonRetryableError } from "../Contracts/taskErrors";

/** RetryPolicy is how long failed tasks wait before their next attempt. */
export interface RetryPolicy {
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

/**
 * retryDelayMs is the wait before the attempt after `attempt`: the base
 * doubled per attempt, capped, then drawn between half and all of that, so
 * tasks that failed together do not all return together.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(
    policy.retryMaxMs,
    policy.retryBaseMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * shouldRetry tells whether a task that threw gets another attempt: not
 * when its error says retrying cannot help, nor when its attempts are
 * spent.
 */
export function shouldRetry(
  error: unknown,
  attempt: number,
  maxAttempts: number,
): boolean {
  return !(error instanceof NonRetryableError) && attempt < maxAttempts;
}
