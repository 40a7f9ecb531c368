import { setTimeout as sleep } from "node:timers/promises";
import type { DataSource, EntityManager, QueryRunner } from "typeorm";
import { BatchError, describeError } from "../Contracts/errors";
import { lazyChild, Logger } from "../Contracts/Logger";
import type { TaskRegistry } from "../Contracts/TaskRegistry";
import { countAttempts, refundAttempts } from "../DataLayer/attempts";
import { awaitHeldTask } from "../DataLayer/awaitHeldTask";
import {
  claimPendingTasks,
  ClaimScope,
  IdRange,
  msUntilNextRetry,
  readQueueOutlook,
} from "../DataLayer/claim";
import type { BatchJob } from "../DataLayer/entities/BatchJob";
import {
  commitOutcomes,
  RoundCommit,
  type TaskOutcome,
} from "../DataLayer/commitOutcomes";
import {
  isPermanentDatabaseError,
  isSerializationFailure,
} from "../DataLayer/sqlState";
import { TaskStatus } from "../DataLayer/TaskStatus";
import { DeadlineTimer } from "./DeadlineTimer";
import { Heartbeat } from "./Heartbeat";
import { noMetrics, RunnerMetrics, TaskEnd } from "./metrics";
import type { RunnerOptions } from "./RunnerOptions";
import { runTask } from "./runTask";
import { StopSwitch } from "./StopSwitch";
import { concludeTask, EndedTask, giveUpTask } from "./taskOutcomes";

/** RunnerStats count what a runner did since it started. */
export interface RunnerStats {
  rounds: number;
  tasksDone: number;
  tasksFailed: number;
  /** Tasks that threw and went back to wait for another attempt. */
  tasksRetried: number;
  /** Rounds retried because REPEATABLE READ refused a claim (40001). */
  serializationRetries: number;
  /** Rounds lost to our own machinery: connection, claim lost, etc. */
  roundErrors: number;
}

/** RunnerDependencies are what a runner works with, passed in for tests. */
export interface RunnerDependencies {
  /** Connections for the rounds' transactions. */
  readonly dataSource: DataSource;
  /**
   * Connections for the writes beside the rounds: attempts, heartbeats,
   * cancels. They may commit asynchronously (synchronous_commit off): a
   * database crash can lose the last of them, which costs nothing, while
   * a round's commit stays durable. Default: `dataSource`.
   */
  readonly sideDataSource?: DataSource;
  readonly registry: TaskRegistry;
  readonly log: Logger;
  /** Receives the tasks' output lines once their round commits. */
  readonly print: (line: string) => void;
  /** Receives counts and timings; default none. */
  readonly metrics?: RunnerMetrics;
  /** The claim query; tests wrap it to provoke races. */
  readonly claim?: (
    manager: EntityManager,
    limit: number,
    scope?: ClaimScope,
  ) => Promise<BatchJob[]>;
  readonly now?: () => Date;
}

/**
 * RunnerFailedError: the runner stopped because its rounds cannot succeed,
 * such as when a grant or a table is missing.
 */
export class RunnerFailedError extends BatchError {}

/** RoundState is what the tasks of one round share as they run in turn. */
interface RoundState {
  readonly taskIds: readonly string[];
  /** The round's statement timeout so far; runTask updates it. */
  statementTimeoutMs: number | undefined;
  /** One timer for the tasks' time limits, which must not outlive it. */
  readonly deadlines: DeadlineTimer;
}

/**
 * NextRound is a round whose claim rode on the previous round's commit:
 * its transaction is open on that round's connection, holding the tasks
 * it claimed, unless its claim failed after that commit.
 */
interface NextRound {
  readonly queryRunner: QueryRunner;
  readonly scope: ClaimScope;
  readonly claim: { readonly jobs: BatchJob[] } | { readonly error: unknown };
  /** How long the claim took, for the metrics. */
  readonly claimMs: number;
}

/** RoundEnd tells how many tasks a round claimed, and its next round. */
interface RoundEnd {
  readonly claimed: number;
  readonly next?: NextRound;
}

/** RoundGivenBackError: a round was rolled back on purpose, not by a fault. */
class RoundGivenBackError extends BatchError {
  constructor(
    readonly reason: "shutdown" | "abandoned",
    readonly taskIds: readonly string[],
  ) {
    super(`Round of tasks ${taskIds.join(", ")} given back: ${reason}`);
  }
}

const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 5000;
const RETRY_JITTER_MS = 10;
// Rounds between reads of the pending id range; a short claim rereads it.
const RANGE_REFRESH_ROUNDS = 100;
// One round in this many claims from the head of the queue, passing over
// only the rows peers hold. The others pass over every touched row, and a
// task whose last claim was rolled back looks touched until it is claimed
// again: this keeps it from waiting behind every newer task.
const HEAD_CLAIM_EVERY = 16;
// One round in this many claims from the head passing over nothing, for
// the rare row that only looks held (see PassOver). It tries the lock of
// every row peers hold at the head, where their claims wrap around: with
// 20 runners holding 1,000 rows each, those claims took as long as all
// the others together while they came one round in 16.
const UNFILTERED_CLAIM_EVERY = 256;

/**
 * BatchRunner claims pending tasks and runs them, one REPEATABLE READ
 * transaction per round: claim up to `batchSize` rows with skip-locked row
 * locks, count the attempt on a second connection, run each task, record
 * how each ended, hold for `holdMs`, commit; a round whose claim came back
 * full carries the next round's claim on its commit. A round that PostgreSQL
 * refuses with a serialization failure is retried; it never counts as a
 * task failure, and since nothing of it committed, no task runs twice into
 * its result.
 */
export class BatchRunner {
  private readonly stopping = new AbortController();
  private readonly shutdown = new StopSwitch();
  private graceTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: Heartbeat;
  private tasksInHand = 0;
  /** Per open round, the tasks whose attempt it has spent. */
  private readonly spentByRound = new Set<Set<string>>();
  private wakeRequested = false;
  private idRange: IdRange | undefined;
  /** When, by performance.now(), the last read said a retry falls due. */
  private retryDueAt = Number.POSITIVE_INFINITY;
  private roundsSinceRange = Number.POSITIVE_INFINITY;
  private roundsStarted = 0;
  private idleWake = new AbortController();
  private finished: Promise<RunnerStats> | undefined;
  private readonly counters: RunnerStats = {
    rounds: 0,
    tasksDone: 0,
    tasksFailed: 0,
    tasksRetried: 0,
    serializationRetries: 0,
    roundErrors: 0,
  };
  private readonly log: Logger;
  private readonly claim: NonNullable<RunnerDependencies["claim"]>;
  private readonly now: () => Date;
  private readonly metrics: RunnerMetrics;
  private readonly side: DataSource;

  constructor(
    private readonly deps: RunnerDependencies,
    private readonly options: RunnerOptions,
  ) {
    this.log = deps.log.child({ runnerId: options.runnerId });
    this.claim = deps.claim ?? claimPendingTasks;
    this.now = deps.now ?? (() => new Date());
    this.metrics = deps.metrics ?? noMetrics;
    this.side = deps.sideDataSource ?? deps.dataSource;
    this.heartbeat = new Heartbeat(
      this.side,
      options.runnerId,
      options.heartbeatIntervalMs,
      () => ({
        tasksDone: this.counters.tasksDone,
        tasksFailed: this.counters.tasksFailed,
        tasksRetried: this.counters.tasksRetried,
        tasksInHand: this.tasksInHand,
      }),
      this.log,
    );
  }

  /** A copy of the counters so far. */
  get stats(): RunnerStats {
    return { ...this.counters };
  }

  /**
   * start runs the loop and resolves with the final counters when it ends:
   * after stop(), or with `untilEmpty` when no task is pending: none due,
   * none waiting to retry, none that another round holds.
   *
   * @throws {TypeError} when called twice.
   * @throws {RunnerFailedError} (rejects) when retrying cannot help.
   */
  start(): Promise<RunnerStats> {
    if (this.finished !== undefined) {
      throw new TypeError("Cannot start runner: it was started already");
    }
    this.heartbeat.start();
    this.finished = this.loop().then(
      async () => {
        clearTimeout(this.graceTimer);
        await this.heartbeat.stop(true);
        return this.stats;
      },
      async (error: unknown) => {
        clearTimeout(this.graceTimer);
        await this.heartbeat.stop(false);
        throw error;
      },
    );
    return this.finished;
  }

  /**
   * stop claims no more tasks, lets those in hand finish within the
   * shutdown grace, then aborts them, which gives them back to the queue
   * without spending an attempt. It resolves when the loop has ended and is
   * safe to call twice, before start(), and concurrently.
   */
  stop(): Promise<RunnerStats> {
    if (!this.stopping.signal.aborted) {
      this.stopping.abort();
      this.graceTimer = setTimeout(
        () => this.shutdown.stop(new Error("Runner is shutting down")),
        this.options.shutdownGraceMs,
      );
    }
    this.finished ??= Promise.resolve(this.stats);
    return this.finished;
  }

  /**
   * giveBackAttempts refunds the attempt of every task in hand, for a
   * runner about to exit without finishing them: the database rolls their
   * rounds back when the process ends, and being stopped is not the tasks'
   * fault. Each attempt is refunded once, whatever the rounds do next.
   */
  async giveBackAttempts(): Promise<void> {
    const taskIds = await this.refundSpent(this.spentByRound);
    if (taskIds.length === 0) return;
    this.log.info("Attempts of the tasks in hand given back", { taskIds });
  }

  /**
   * refundSpent refunds the attempts recorded in `rounds` and forgets
   * them, so that no attempt is refunded twice; returns the tasks' ids.
   */
  private async refundSpent(rounds: Iterable<Set<string>>): Promise<string[]> {
    const taskIds = [...rounds].flatMap((spent) => {
      const ids = [...spent];
      spent.clear();
      return ids;
    });
    if (taskIds.length > 0) await refundAttempts(this.side, taskIds);
    return taskIds;
  }

  /**
   * wake cuts short the wait of an idle runner, because tasks were queued.
   * A wake-up that arrives during a round makes the runner claim again at
   * once if that round found nothing.
   */
  wake(): void {
    this.wakeRequested = true;
    this.idleWake.abort();
    this.idleWake = new AbortController();
  }

  /**
   * loop runs `concurrency` lanes, each a loop of rounds on a connection of
   * its own, so that one lane's tasks run while another waits for the
   * database. A lane that fails for good stops the others.
   */
  private async loop(): Promise<void> {
    const { runnerId: _, ...options } = this.options;
    this.log.debug("Runner started", options);
    const lanes = Array.from({ length: this.options.concurrency }, () =>
      this.lane().catch((error: unknown) => {
        this.stopping.abort();
        throw error;
      }),
    );
    const ended = await Promise.allSettled(lanes);
    const failed = ended.find((lane) => lane.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    this.log.info("Runner stopped", { ...this.counters });
  }

  /** lane runs rounds until stopped, or, with `untilEmpty`, out of tasks. */
  private async lane(): Promise<void> {
    let failuresInARow = 0;
    let next: NextRound | undefined;
    try {
      while (!this.stopping.signal.aborted) {
        try {
          const carried = next;
          next = undefined;
          const round = await this.runRound(carried);
          next = round.next;
          failuresInARow = 0;
          // Inside the try: the waits query too, and a lost connection
          // there is retried like a round's.
          if (round.claimed === 0) {
            if (!this.options.untilEmpty) await this.idle();
            else if (!(await this.waitForUnfinished())) break;
          }
        } catch (error) {
          failuresInARow = await this.recover(error, failuresInARow);
        }
      }
    } finally {
      // Stopped with a round claimed but not begun: its tasks go back
      // untouched, no attempt spent.
      if (next !== undefined) await discardRound(next.queryRunner);
    }
  }

  /**
   * recover deals with a round that failed: it retries at once after a
   * serialization failure or a round given back, after a backoff after
   * other faults, and stops the runner when retrying cannot help. It
   * returns the count of faults in a row.
   */
  private async recover(
    error: unknown,
    failuresInARow: number,
  ): Promise<number> {
    if (isSerializationFailure(error)) {
      this.counters.serializationRetries += 1;
      this.metrics.serializationRetry();
      this.log.debug("Claim collided with another runner, retrying");
      await this.pause(Math.random() * RETRY_JITTER_MS);
      return failuresInARow;
    }
    if (error instanceof RoundGivenBackError) {
      this.log.info("Round given back to the queue", {
        reason: error.reason,
        taskIds: error.taskIds,
      });
      return failuresInARow;
    }
    if (isPermanentDatabaseError(error)) {
      throw new RunnerFailedError(
        `Runner ${this.options.runnerId} stopped: ${describeError(error)}; ` +
          "retrying cannot help, check the schema and the role's grants",
        { cause: error },
      );
    }
    const faults = failuresInARow + 1;
    this.counters.roundErrors += 1;
    this.metrics.roundError();
    const retryInMs = backoff(faults);
    this.log.error("Round failed, retrying", {
      error: describeError(error),
      attempt: faults,
      retryInMs,
    });
    await this.pause(retryInMs);
    return faults;
  }

  /**
   * waitForUnfinished keeps a runner told to stop at an empty queue from
   * stopping while tasks may still come its way: those that other rounds
   * hold, which come back if their runner dies, and those waiting to
   * retry. It returns false when there are none, else true once one may
   * be claimable: a held task came back or the first retry is due, or
   * at most about two poll intervals passed.
   */
  private async waitForUnfinished(): Promise<boolean> {
    const { pollIntervalMs } = this.options;
    if ((await awaitHeldTask(this.side, pollIntervalMs)) !== "ended") {
      return true;
    }
    const waitMs = await msUntilNextRetry(this.side.manager);
    if (waitMs === undefined) return false;
    await this.pause(Math.min(Math.max(waitMs, 10), pollIntervalMs));
    return true;
  }

  /** idle waits for the next poll, or less when woken. */
  private async idle(): Promise<void> {
    if (this.wakeRequested) {
      this.wakeRequested = false;
      return;
    }
    const signal = AbortSignal.any([
      this.stopping.signal,
      this.idleWake.signal,
    ]);
    await sleep(this.options.pollIntervalMs, undefined, { signal }).catch(
      () => undefined,
    );
    this.wakeRequested = false;
  }

  /**
   * runRound claims, runs and records one round, or, given a round whose
   * claim the last one's commit carried, runs and records that. It tells
   * how many tasks it claimed, and hands on the next round when its own
   * commit carried that round's claim.
   */
  private async runRound(carried?: NextRound): Promise<RoundEnd> {
    this.wakeRequested = false;
    const scope = carried?.scope ?? (await this.claimScope());
    const queryRunner =
      carried?.queryRunner ?? this.deps.dataSource.createQueryRunner();
    let jobs: BatchJob[] = [];
    let inHand = 0;
    let next: NextRound | undefined;
    const spent = new Set<string>();
    this.spentByRound.add(spent);
    try {
      const claimStarted = performance.now() - (carried?.claimMs ?? 0);
      const { manager } = queryRunner;
      const limit = this.options.batchSize;
      const begin = this.options.isolation;
      if (carried === undefined) {
        await queryRunner.connect();
        jobs = await this.claim(manager, limit, { ...scope, begin });
      } else if ("error" in carried.claim) {
        throw carried.claim.error;
      } else {
        jobs = carried.claim.jobs;
      }
      if (jobs.length === 0 && scope.passOver === "touched") {
        // Rows passed over may be all that is left. Look again at them in a
        // fresh snapshot: in this one, tasks that peers finished since it
        // began still look pending, and locking those is what REPEATABLE
        // READ refuses. Still pass over the tasks peers hold: when one of
        // them commits while this claim walks past, that is refused too.
        await queryRunner.commitTransaction();
        jobs = await this.claim(manager, limit, {
          from: scope.from,
          passOver: "held",
          begin,
        });
      }
      this.metrics.claimed((performance.now() - claimStarted) / 1000);
      this.counters.rounds += 1;
      this.learnFromClaim(jobs.length === limit);
      if (jobs.length === 0) {
        await queryRunner.commitTransaction();
        return { claimed: 0 };
      }

      inHand = jobs.length;
      this.addTasksInHand(inHand);
      const ended = await this.runJobs(queryRunner, jobs, spent);
      if (this.options.holdMs > 0) await this.pause(this.options.holdMs);
      next = await this.commitRound(
        queryRunner,
        ended.map((entry) => entry.outcome),
        jobs.length === limit,
      );

      this.report(ended);
      return { claimed: jobs.length, next };
    } catch (error) {
      // With a next round claimed, that is the transaction rolled back.
      next = undefined;
      if (queryRunner.isTransactionActive) {
        await queryRunner.rollbackTransaction().catch(() => undefined);
      }
      if (error instanceof RoundGivenBackError && error.reason === "shutdown") {
        await this.refundSpent([spent]);
      }
      throw error;
    } finally {
      this.spentByRound.delete(spent);
      this.addTasksInHand(-inHand);
      // The next round goes on in this connection's new transaction.
      if (next === undefined) {
        await queryRunner.release().catch(() => undefined);
      }
    }
  }

  /**
   * commitRound commits a round. When its claim came back full and the
   * runner goes on, the next round's claim rides on the commit, in the
   * same round trip on the same connection, and that round is returned:
   * at a batch of one, this spares a third of the round trips, which is
   * what such rounds cost. A failure of that claim after the commit is
   * the next round's to deal with.
   *
   * @throws {ClaimLostError} and any error that kept the commit from
   *   running: the round did not commit.
   */
  private async commitRound(
    queryRunner: QueryRunner,
    outcomes: readonly TaskOutcome[],
    claimedFull: boolean,
  ): Promise<NextRound | undefined> {
    const { runnerId, batchSize, isolation } = this.options;
    const scope = claimedFull ? await this.nextClaimScope() : undefined;
    if (scope === undefined) {
      await commitOutcomes(queryRunner, runnerId, outcomes);
      return undefined;
    }
    const commit = new RoundCommit(queryRunner, runnerId, outcomes);
    const claimStarted = performance.now();
    let claim: NextRound["claim"];
    try {
      const jobs = await this.claim(queryRunner.manager, batchSize, {
        ...scope,
        begin: isolation,
        commitFirst: commit,
      });
      claim = { jobs };
    } catch (error) {
      if (commit.committed !== true) throw error;
      claim = { error };
    }
    const claimMs = performance.now() - claimStarted;
    return { queryRunner, scope, claim, claimMs };
  }

  /**
   * nextClaimScope picks where the next round claims, unless the runner is
   * stopping or the pick fails: it may read the queue on the side
   * connection, and a fault there must not cost the round in hand its
   * commit. The next round then picks again, and meets the fault itself.
   */
  private async nextClaimScope(): Promise<ClaimScope | undefined> {
    if (this.stopping.signal.aborted) return undefined;
    try {
      return await this.claimScope();
    } catch {
      return undefined;
    }
  }

  /**
   * learnFromClaim keeps the pending id range fresh enough. A short claim
   * means few tasks are left: the next round claims from the head, without
   * reading the range first, which also lets a runner woken by new tasks
   * claim at once. A full claim from the head means the queue has grown:
   * the next round reads the range again to spread out.
   */
  private learnFromClaim(full: boolean): void {
    if (!full) {
      this.idRange = undefined;
      this.roundsSinceRange = 0;
    } else if (this.idRange === undefined) {
      this.roundsSinceRange = RANGE_REFRESH_ROUNDS;
    }
  }

  /**
   * claimScope picks where this round's claim begins: a random id among the
   * pending ones, so that runners spread over the queue instead of all
   * scanning its head, where their peers' rounds are committing, and it
   * passes over rows touched since their snapshot. Without both, REPEATABLE
   * READ refuses a large share of claims (40001) when runners are many.
   * Every HEAD_CLAIM_EVERY-th round claims from the head instead, passing
   * over only rows held by peers, and every UNFILTERED_CLAIM_EVERY-th
   * passes over nothing. Claims from the head take due retries first; one
   * from a random id looks for them only once the last read of the queue
   * said one is due, since that doubles the statement the server plans.
   */
  private async claimScope(): Promise<ClaimScope> {
    this.roundsStarted += 1;
    if (this.roundsStarted % UNFILTERED_CLAIM_EVERY === 0) return {};
    if (this.roundsStarted % HEAD_CLAIM_EVERY === 0)
      return { passOver: "held" };
    if (this.roundsSinceRange >= RANGE_REFRESH_ROUNDS) {
      const outlook = await readQueueOutlook(this.side.manager);
      this.idRange = outlook.ids;
      this.retryDueAt =
        performance.now() + (outlook.msUntilNextRetry ?? Infinity);
      this.roundsSinceRange = 0;
    }
    this.roundsSinceRange += 1;
    if (this.idRange === undefined) return { passOver: "touched" };
    const { lowest, highest } = this.idRange;
    const offset = Math.floor(Math.random() * Number(highest - lowest + 1n));
    return {
      from: String(lowest + BigInt(offset)),
      passOver: "touched",
      freshOnly: performance.now() < this.retryDueAt,
    };
  }

  /** runJobs counts the attempt of each claimed job, then runs them. */
  private async runJobs(
    queryRunner: QueryRunner,
    claimed: BatchJob[],
    spent: Set<string>,
  ): Promise<EndedTask[]> {
    const ids = claimed.map((job) => job.id);
    const attempts = await countAttempts(this.side, this.options.runnerId, ids);
    for (const id of ids) spent.add(id);
    const jobs = await this.isolateSuspects(claimed, attempts, spent);
    const round: RoundState = {
      taskIds: ids,
      statementTimeoutMs: undefined,
      deadlines: new DeadlineTimer(),
    };

    try {
      const ended: EndedTask[] = [];
      for (const job of jobs) {
        const attempt = attempts.get(job.id) ?? 1;
        ended.push(await this.runJob(queryRunner, job, attempt, round));
      }
      return ended;
    } finally {
      round.deadlines.dispose();
    }
  }

  /**
   * runJob runs one claimed task of the round and tells how it ended.
   *
   * @throws {RoundGivenBackError} when the round must be rolled back.
   */
  private async runJob(
    queryRunner: QueryRunner,
    job: BatchJob,
    attempt: number,
    round: RoundState,
  ): Promise<EndedTask> {
    const log = lazyChild(this.log, {
      taskId: job.id,
      taskClass: job.className,
      attempt,
    });
    if (attempt > job.maxAttempts) return giveUpTask(job, attempt, this.now());

    const result = await runTask({
      sideDataSource: this.side,
      queryRunner,
      job,
      registry: this.deps.registry,
      runnerId: this.options.runnerId,
      log,
      limitMs: job.timeoutMs ?? this.options.taskTimeoutMs,
      round,
      shutdown: this.shutdown,
      now: this.now,
    });
    if (result.kind === "cut-off") {
      throw new RoundGivenBackError("shutdown", round.taskIds);
    }
    if (result.kind === "abandoned") {
      log.warn("Task ignored its abort signal; rolling back its round");
      throw new RoundGivenBackError("abandoned", round.taskIds);
    }
    return concludeTask(job, attempt, result, this.options);
  }

  /**
   * isolateSuspects keeps a task claimed before, which may be one that
   * kills its runner, from taking its batch-mates down with it: a runner
   * that dies spends an attempt of every task in its round. A round that
   * claims such a task runs it alone (with those whose attempts are spent,
   * which fail without running) and gives the others back, refunding
   * their attempt. Innocent tasks thus lose at most one attempt to a
   * killer, while the killer spends one each time.
   */
  private async isolateSuspects(
    claimed: BatchJob[],
    attempts: ReadonlyMap<string, number>,
    spent: Set<string>,
  ): Promise<BatchJob[]> {
    // The map holds only tasks claimed before; most rounds have none.
    if (attempts.size === 0) return claimed;
    const attemptOf = (job: BatchJob) => attempts.get(job.id) ?? 1;
    const runnable = claimed.filter((job) => attemptOf(job) <= job.maxAttempts);
    const suspect = runnable.find((job) => attemptOf(job) > 1);
    if (suspect === undefined || runnable.length === 1) return claimed;

    const kept = claimed.filter(
      (job) => job === suspect || attemptOf(job) > job.maxAttempts,
    );
    const givenBack = claimed
      .filter((job) => !kept.includes(job))
      .map((job) => job.id);
    for (const id of givenBack) spent.delete(id);
    await refundAttempts(this.side, givenBack);
    this.log.debug("Running a task claimed before on its own", {
      taskId: suspect.id,
      givenBack,
    });
    return kept;
  }

  private addTasksInHand(count: number): void {
    this.tasksInHand += count;
    this.metrics.tasksInHand(this.tasksInHand);
  }

  /** report logs and prints a committed round; nothing before commit. */
  private report(ended: readonly EndedTask[]): void {
    for (const { job, outcome, lines } of ended) {
      const durationMs =
        outcome.stoppedAt.getTime() - outcome.startedAt.getTime();
      const error = outcome.error?.split("\n")[0];
      this.metrics.taskEnded(
        job.className,
        endOf(outcome.status),
        durationMs / 1000,
      );
      if (outcome.status === TaskStatus.Done) {
        this.counters.tasksDone += 1;
        for (const line of lines) this.deps.print(line);
        // Per task only when debugging: at thousands of tasks a second,
        // the heartbeat's progress line and the metrics tell more.
        this.log.debug("Task done", {
          taskId: job.id,
          taskClass: job.className,
          durationMs,
        });
        continue;
      }
      const log = this.log.child({
        taskId: job.id,
        taskClass: job.className,
      });
      if (outcome.status === TaskStatus.Pending) {
        this.counters.tasksRetried += 1;
        log.info("Task failed, will retry", {
          durationMs,
          error,
          notBefore: outcome.notBefore,
        });
      } else {
        this.counters.tasksFailed += 1;
        log.warn("Task failed for good", { durationMs, error });
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

/** discardRound rolls back a round that never ran, and frees its connection. */
async function discardRound(queryRunner: QueryRunner): Promise<void> {
  if (queryRunner.isTransactionActive) {
    await queryRunner.rollbackTransaction().catch(() => undefined);
  }
  await queryRunner.release().catch(() => undefined);
}

function endOf(status: TaskStatus): TaskEnd {
  if (status === TaskStatus.Done) return "done";
  return status === TaskStatus.Pending ? "retried" : "failed";
}

function backoff(failuresInARow: number): number {
  const ceiling = Math.min(
    BACKOFF_MAX_MS,
    BACKOFF_BASE_MS * 2 ** failuresInARow,
  );
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}
