import { setTimeout as sleep } from "node:timers/promises";

/**
 * pollUntil calls `check` every `intervalMs` until it returns true.
 *
 * @throws {Error} with `what` when `timeoutMs` passes first.
 */
export async function pollUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { intervalMs: number; timeoutMs: number },
): Promise<void> {
  const deadline = performance.now() + options.timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) {
      throw new Error(
        `Timed out after ${options.timeoutMs} ms waiting for ${what}`,
      );
    }
    await sleep(options.intervalMs);
  }
}

/** randomBetween draws a uniform number from [low, high). */
export function randomBetween(low: number, high: number): number {
  return low + Math.random() * (high - low);
}
