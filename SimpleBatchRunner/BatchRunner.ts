import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import type { Logger } from "../Contracts/Logger";
import { describeError, toError } from "../Contracts/errors";
import type { TaskRegistry } from "../Contracts/TaskRegistry";
import { claimPendingTasks } from "../DataLayer/claim";
import { completeTasks, failTasks, TaskOutcome } from "../DataLayer/complete";
import type { BatchJob } from "../DataLayer/entities/BatchJob";
import { isSerializationFailure } from "../DataLayer/sqlState";
import type { RunnerOptions } from "./RunnerOptions";

/** RunnerStats count what a runner did since it started. */
export interface RunnerStats {
  rounds: number;
  tasksDone: number;
  tasksFailed: number;
  /** Rounds retried because REPEATABLE READ refused a claim (40001). */
  serializationRetries: number;
  /** Rounds lost to our own machinery: connection, claim lost, etc. */
  roundErrors: number;
}

/** RunnerDependencies are what a runner works with, passed in for tests. */
export interface RunnerDependencies {
  readonly dataSource: DataSource;
  readonly registry: TaskRegistry;
  readonly log: Logger;
  /** Receives the tasks' output lines once their round commits. */
  readonly print: (line: string) => void;
  /** The claim query; tests wrap it to provoke races. */
  readonly claim?: (manager: EntityManager, limit: number) => Promise<BatchJob[]>;
  readonly now?: () => Date;
}

interface TaskRun extends TaskOutcome {
  readonly className: string;
  readonly lines: readonly string[];
}

const MAX_ERROR_TEXT = 4000;
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5000;
const RETRY_JITTER_MS = 10;

/**
 * BatchRunner claims pending tasks and runs them, one REPEATABLE READ
 * transaction per round: claim up to `batchSize` rows with skip-locked row
 * locks, run each task, record start and stop times and the outcome, hold
 * for `holdMs`, commit. A round that PostgreSQL refuses with a serialization
 * failure is retried; it never counts as a task failure, and since nothing
 * of it committed, no task runs twice into its result.
 */
export class BatchRunner {
  private readonly stopping = new AbortController();
  private readonly taskAbort = new AbortController();
  private finished: Promise<RunnerStats> | undefined;
  private readonly counters: RunnerStats = {
    rounds: 0,
    tasksDone: 0,
    tasksFailed: 0,
    serializationRetries: 0,
    roundErrors: 0,
  };
  private readonly log: Logger;
  private readonly claim: NonNullable<RunnerDependencies["claim"]>;
  private readonly now: () => Date;

  constructor(
    private readonly deps: RunnerDependencies,
    private readonly options: RunnerOptions,
  ) {
    this.log = deps.log.child({ runnerId: options.runnerId });
    this.claim = deps.claim ?? claimPendingTasks;
    this.now = deps.now ?? (() => new Date());
  }

  /** A copy of the counters so far. */
  get stats(): RunnerStats {
    return { ...this.counters };
  }

  /**
   * start runs the loop and resolves with the final counters when it ends:
   * after stop(), or with `untilEmpty` when a round finds no task.
   *
   * @throws {TypeError} when called twice.
   */
  start(): Promise<RunnerStats> {
    if (this.finished !== undefined) {
      throw new TypeError("Cannot start runner: it was started already");
    }
    this.finished = this.loop().then(() => this.stats);
    return this.finished;
  }

  /**
   * stop ends the loop after the round in hand and resolves when it has
   * ended. Safe to call twice, before start(), and concurrently.
   */
  stop(): Promise<RunnerStats> {
    this.stopping.abort();
    this.finished ??= Promise.resolve(this.stats);
    return this.finished;
  }

  private async loop(): Promise<void> {
    this.log.debug("Runner started", { ...this.options });
    let failuresInARow = 0;

    while (!this.stopping.signal.aborted) {
      let claimed: number;
      try {
        claimed = await this.runRound();
        failuresInARow = 0;
      } catch (error) {
        if (isSerializationFailure(error)) {
          this.counters.serializationRetries += 1;
          this.log.debug("Claim collided with another runner, retrying");
          await this.pause(Math.random() * RETRY_JITTER_MS);
          continue;
        }
        failuresInARow += 1;
        this.counters.roundErrors += 1;
        const retryInMs = backoff(failuresInARow);
        this.log.error("Round failed, retrying", {
          error: describeError(error),
          attempt: failuresInARow,
          retryInMs,
        });
        await this.pause(retryInMs);
        continue;
      }

      if (claimed === 0) {
        if (this.options.untilEmpty) break;
        await this.pause(this.options.pollIntervalMs);
      }
    }
    this.log.info("Runner stopped", { ...this.counters });
  }

  /** runRound claims, runs and records one round; returns tasks claimed. */
  private async runRound(): Promise<number> {
    const queryRunner = this.deps.dataSource.createQueryRunner();
    try {
      await queryRunner.connect();
      await queryRunner.startTransaction("REPEATABLE READ");
      const jobs = await this.claim(queryRunner.manager, this.options.batchSize);
      this.counters.rounds += 1;
      if (jobs.length === 0) {
        await queryRunner.commitTransaction();
        return 0;
      }

      const runs: TaskRun[] = [];
      for (const job of jobs) runs.push(await this.runTask(queryRunner, job));
      if (this.options.holdMs > 0) await sleep(this.options.holdMs);

      const manager = queryRunner.manager;
      const runnerId = this.options.runnerId;
      await completeTasks(manager, runnerId, runs.filter((run) => !run.error));
      await failTasks(manager, runnerId, runs.filter((run) => run.error));
      await queryRunner.commitTransaction();

      this.report(runs);
      return jobs.length;
    } catch (error) {
      if (queryRunner.isTransactionActive) {
        await queryRunner.rollbackTransaction().catch(() => undefined);
      }
      throw error;
    } finally {
      await queryRunner.release().catch(() => undefined);
    }
  }

  /**
   * runTask runs one claimed task inside a savepoint, so that a task that
   * throws loses only its own writes and the round goes on.
   */
  private async runTask(queryRunner: QueryRunner, job: BatchJob): Promise<TaskRun> {
    const log = this.log.child({ taskId: job.id, taskClass: job.className });
    const lines: string[] = [];
    const startedAt = this.now();
    const base = { id: job.id, className: job.className, startedAt, lines };

    await queryRunner.query("SAVEPOINT task");
    try {
      const { task, contract } = this.deps.registry.resolve(
        job.className,
        job.contractName,
        job.contractJson,
      );
      await task.execute(contract, {
        taskId: job.id,
        runnerId: this.options.runnerId,
        manager: queryRunner.manager,
        signal: this.taskAbort.signal,
        log,
        print: (line) => lines.push(line),
      });
      await queryRunner.query("RELEASE SAVEPOINT task");
      return { ...base, stoppedAt: this.now() };
    } catch (thrown) {
      // A refused snapshot is the round's problem, not the task's.
      if (isSerializationFailure(thrown)) throw thrown;
      await queryRunner.query("ROLLBACK TO SAVEPOINT task");
      await queryRunner.query("RELEASE SAVEPOINT task");
      return { ...base, stoppedAt: this.now(), error: failureText(thrown) };
    }
  }

  /** report logs and prints a committed round; nothing before commit. */
  private report(runs: readonly TaskRun[]): void {
    for (const run of runs) {
      const log = this.log.child({ taskId: run.id, taskClass: run.className });
      const durationMs = run.stoppedAt.getTime() - run.startedAt.getTime();
      if (run.error === undefined) {
        this.counters.tasksDone += 1;
        for (const line of run.lines) this.deps.print(line);
        log.info("Task done", { durationMs });
      } else {
        this.counters.tasksFailed += 1;
        log.info("Task failed", { durationMs, error: firstLine(run.error) });
      }
    }
  }

  /** pause waits, waking early when the runner is asked to stop. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopping.signal }).catch(
      () => undefined,
    );
  }
}

function failureText(thrown: unknown): string {
  const error = toError(thrown);
  const text = error.stack ?? `${error.name}: ${error.message}`;
  return text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}…` : text;
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end === -1 ? text : text.slice(0, end);
}

function backoff(failuresInARow: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** failuresInARow);
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
