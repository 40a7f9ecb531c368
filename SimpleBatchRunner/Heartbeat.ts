import * as os from "node:os";
import type { DataSource } from "typeorm";
import { describeError } from "../Contracts/errors";
import type { Logger } from "../Contracts/Logger";
import { writeHeartbeat } from "../DataLayer/heartbeat";

/** HeartbeatCounts are what a runner reports about its work so far. */
export interface HeartbeatCounts {
  readonly tasksDone: number;
  readonly tasksFailed: number;
  readonly tasksRetried: number;
  readonly tasksInHand: number;
}

/**
 * Heartbeat writes a runner's record in blog.runnerheartbeat on a timer,
 * on pooled connections of their own, so a long task does not silence it.
 * A failed beat is only logged: the tasks matter more than the record of
 * them. Each beat after work was done also logs the runner's progress,
 * which is what a person reading its log wants to see of a busy runner.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = new Date();
  private ended = 0;
  private endedAt = performance.now();

  constructor(
    private readonly dataSource: DataSource,
    private readonly runnerId: string,
    private readonly intervalMs: number,
    private readonly counts: () => HeartbeatCounts,
    private readonly log: Logger,
  ) {}

  /** start writes a first beat and then one per interval. */
  start(): void {
    void this.beat(false);
    this.timer = setInterval(() => void this.beat(false), this.intervalMs);
  }

  /** stop ends the timer; with `clean`, a last beat marks the stop. */
  async stop(clean: boolean): Promise<void> {
    clearInterval(this.timer);
    if (clean) await this.beat(true);
  }

  private async beat(stopped: boolean): Promise<void> {
    const counts = this.counts();
    this.logProgress(counts);
    try {
      await writeHeartbeat(this.dataSource, {
        runnerId: this.runnerId,
        host: os.hostname(),
        pid: process.pid,
        startedAt: this.startedAt,
        ...counts,
        stopped,
      });
    } catch (error) {
      this.log.warn("Cannot write the runner heartbeat", {
        error: describeError(error),
      });
    }
  }

  /** logProgress logs the counts when tasks ended since the last beat. */
  private logProgress(counts: HeartbeatCounts): void {
    const ended = counts.tasksDone + counts.tasksFailed + counts.tasksRetried;
    const now = performance.now();
    const seconds = (now - this.endedAt) / 1000;
    const since = ended - this.ended;
    this.ended = ended;
    this.endedAt = now;
    if (since === 0) return;
    this.log.info("Runner progress", {
      ...counts,
      tasksPerSecond: Math.round(since / Math.max(seconds, 0.001)),
    });
  }
}
