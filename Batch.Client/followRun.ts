import type { DataSource } from "typeorm";
import { countTasks, TaskCounts } from "../DataLayer/countTasks";
import { pauseBeforeNextRead, timed } from "./pollPacing";

/** FollowOptions tune how a run is followed. */
export interface FollowOptions {
  /** Where the progress goes; a TTY gets one bar redrawn in place. */
  readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /**
   * Milliseconds between polls; default 500, and longer over a queue so
   * long that counting it takes over a ninth of that.
   */
  readonly intervalMs?: number;
  /** Milliseconds between lines when `out` is not a TTY; default 5,000. */
  readonly lineEveryMs?: number;
  /** Stops following early. */
  readonly signal?: AbortSignal;
  /** Resolves when the run can end anyway, e.g. when every runner exited. */
  readonly until?: Promise<unknown>;
}

/**
 * followRun polls the task table and draws progress until no task is
 * pending (or `until` settles), then resolves with the final counts.
 */
export async function followRun(
  dataSource: DataSource,
  options: FollowOptions,
): Promise<TaskCounts> {
  const interval = options.intervalMs ?? 500;
  const started = Date.now();
  const first = await countTasks(dataSource);
  let ended = false;
  void options.until?.finally(() => (ended = true));
  let lastLine = 0;

  for (;;) {
    const { value: counts, ms: countMs } = await timed(() =>
      countTasks(dataSource),
    );
    const finished = counts.pending === 0 || ended || options.signal?.aborted;
    const line = formatProgress(
      counts,
      counts.done + counts.failed - first.done - first.failed,
      Date.now() - started,
    );
    if (options.out.isTTY) {
      options.out.write(`\r${line}\x1b[K${finished ? "\n" : ""}`);
    } else if (
      finished ||
      Date.now() - lastLine >= (options.lineEveryMs ?? 5000)
    ) {
      options.out.write(`${line}\n`);
      lastLine = Date.now();
    }
    if (finished) return counts;
    await pauseBeforeNextRead(interval, countMs, options.signal);
  }
}

const BAR_WIDTH = 30;

/**
 * formatProgress draws one progress line: a bar, done and failed out of the
 * total, the rate since following began, and the time left at that rate.
 */
export function formatProgress(
  counts: TaskCounts,
  endedSinceStart: number,
  elapsedMs: number,
): string {
  const ended = counts.done + counts.failed;
  const fraction = counts.total === 0 ? 1 : ended / counts.total;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
  const rate = elapsedMs > 0 ? (endedSinceStart * 1000) / elapsedMs : 0;
  const left = rate > 0 ? formatDuration((counts.pending / rate) * 1000) : "?";
  const failed = counts.failed > 0 ? `, ${counts.failed} failed` : "";
  return (
    `[${bar}] ${ended}/${counts.total} (${Math.floor(fraction * 100)}%)${failed}` +
    `  ${rate.toFixed(1)} tasks/s  ${counts.pending === 0 ? "done" : `about ${left} left`}`
  );
}

/** formatDuration writes milliseconds as "850 ms", "12.3 s" or "4 min 5 s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}
