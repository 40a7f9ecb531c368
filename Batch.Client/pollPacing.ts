import { setTimeout as sleep } from "node:timers/promises";

/**
 * A poller that reads the whole task table waits at least this many times
 * as long as its last read took, so that its reads take at most a tenth
 * of one of the database's cores: over a million tasks, counting them
 * takes about 150 ms, which every half second would be a third.
 */
export const WAIT_PER_READ = 9;

/**
 * pollDelayMs is how long a poller waits before its next read: its
 * interval, or longer when the last read took over a ninth of that.
 */
export function pollDelayMs(intervalMs: number, lastReadMs: number): number {
  return Math.max(intervalMs, Math.ceil(WAIT_PER_READ * lastReadMs));
}

/**
 * pauseBeforeNextRead waits pollDelayMs, or until `signal` aborts, which
 * ends the wait without an error.
 */
export async function pauseBeforeNextRead(
  intervalMs: number,
  lastReadMs: number,
  signal?: AbortSignal,
): Promise<void> {
  await sleep(pollDelayMs(intervalMs, lastReadMs), undefined, {
    signal,
  }).catch(() => undefined);
}

/** timed runs `read` and gives its value and how long it took. */
export async function timed<T>(
  read: () => Promise<T>,
): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await read();
  return { value, ms: performance.now() - started };
}
