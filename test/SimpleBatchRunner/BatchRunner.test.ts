import { expect } from "chai";
import type { DataSource, EntityManager } from "typeorm";
import { IsString } from "class-validator";
import { Expose } from "class-transformer";
import { verifyVendorJob } from "../../Batch.Client/verifyVendorJob";
import { buildVendorTasks } from "../../Batch.Client/queueVendorJob";
import type { ITaskfy, TaskContext } from "../../Contracts/ITaskfy";
import { LogFields, Logger, silentLogger } from "../../Contracts/Logger";
import { TaskRegistry } from "../../Contracts/TaskRegistry";
import { beginTransaction } from "../../DataLayer/beginTransaction";
import {
  claimPendingTasks,
  ClaimScope,
  readQueueOutlook,
} from "../../DataLayer/claim";
import { BatchJob } from "../../DataLayer/entities/BatchJob";
import { migrate } from "../../DataLayer/migrate";
import { listenForQueued } from "../../DataLayer/queueNotifications";
import { SqlState, sqlStateOf } from "../../DataLayer/sqlState";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import {
  BatchRunner,
  RunnerFailedError,
} from "../../SimpleBatchRunner/BatchRunner";
import {
  validateRunnerOptions,
  RunnerOptions,
} from "../../SimpleBatchRunner/RunnerOptions";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import {
  allTasks,
  loadAdventureWorks,
  lockWaiters,
  noteTask,
  pendingCount,
  queue,
  waitFor,
} from "../support/fixtures";

class NoteContract {
  @Expose({ name: "Note" })
  @IsString()
  note!: string;
}

/** Writes its note to test_output; throws when the note says "throw". */
class NoteTask implements ITaskfy<NoteContract> {
  async execute(contract: NoteContract, context: TaskContext): Promise<void> {
    await context.manager.query(
      "INSERT INTO test_output (taskid, note) VALUES ($1, $2)",
      [context.taskId, contract.note],
    );
    if (contract.note === "throw")
      throw new Error("Note task was told to throw");
    context.print(`note ${contract.note}`);
  }
}

function noteRegistry(): TaskRegistry {
  const registry = new TaskRegistry();
  registry.registerContract("NoteContract", NoteContract);
  registry.registerTask("NoteTask", NoteTask, NoteContract);
  return registry;
}

describe("BatchRunner", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let printed: string[];

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await dataSource.query(
      "CREATE TABLE test_output (taskid bigint PRIMARY KEY, note text)",
    );
    printed = [];
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  function makeRunner(
    options: Partial<RunnerOptions> = {},
    extra: {
      registry?: TaskRegistry;
      claim?: (m: EntityManager, n: number) => Promise<BatchJob[]>;
      log?: Logger;
    } = {},
  ): BatchRunner {
    return new BatchRunner(
      {
        dataSource,
        registry: extra.registry ?? noteRegistry(),
        log: extra.log ?? silentLogger,
        print: (line) => printed.push(line),
        claim: extra.claim,
      },
      validateRunnerOptions({
        runnerId: "test-runner",
        untilEmpty: true,
        ...options,
      }),
    );
  }

  it("drains the queue and records start, stop, runner and status", async function () {
    await queue(dataSource, [noteTask("a"), noteTask("b"), noteTask("c")]);

    const stats = await makeRunner().start();

    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 1, 1]);
    for (const task of tasks) {
      expect(task.runnerId).to.equal("test-runner");
      expect(task.startedAt).to.be.instanceOf(Date);
      expect(task.stoppedAt!.getTime()).to.be.at.least(
        task.startedAt!.getTime(),
      );
    }
    expect(printed).to.have.members(["note a", "note b", "note c"]);
    expect(stats.tasksDone).to.equal(3);
  });

  it("claims from a random point among the pending tasks, wrapping around", async function () {
    await queue(dataSource, ["1", "2", "3", "4", "5", "6"].map(noteTask));
    const manager = dataSource.manager;

    const claimed = await dataSource.transaction(
      "REPEATABLE READ",
      (transaction) => claimPendingTasks(transaction, 4, { from: "4" }),
    );

    expect(claimed.map((job) => job.id)).to.deep.equal(["4", "5", "6", "1"]);
    expect(await readQueueOutlook(manager)).to.deep.equal({
      ids: { lowest: 1n, highest: 6n },
      msUntilNextRetry: undefined,
    });
    // A task waiting to retry is not where claims start, but it is told.
    await queue(dataSource, [noteTask("7")]);
    await dataSource.query(
      "UPDATE blog.batchjob SET notbefore = now() + interval '1 hour' WHERE id = 7",
    );
    const outlook = await readQueueOutlook(manager);
    expect(outlook.ids).to.deep.equal({ lowest: 1n, highest: 6n });
    expect(outlook.msUntilNextRetry).to.be.within(3_590_000, 3_600_000);
  });

  it("runs `concurrency` rounds at once, each with its own transaction", async function () {
    await queue(dataSource, ["1", "2", "3"].map(noteTask));
    // Each task waits until all three have started: only three rounds in
    // flight at once can finish them.
    let started = 0;
    let allStarted!: () => void;
    const together = new Promise<void>((resolve) => (allStarted = resolve));
    class TogetherTask implements ITaskfy<NoteContract> {
      async execute(contract: NoteContract, context: TaskContext) {
        await context.manager.query(
          "INSERT INTO test_output (taskid, note) VALUES ($1, $2)",
          [context.taskId, contract.note],
        );
        started += 1;
        if (started === 3) allStarted();
        await together;
      }
    }
    const registry = new TaskRegistry();
    registry.registerContract("NoteContract", NoteContract);
    registry.registerTask("NoteTask", TogetherTask, NoteContract);

    const stats = await makeRunner(
      { concurrency: 3, taskTimeoutMs: 5000 },
      { registry },
    ).start();

    expect(stats.tasksDone).to.equal(3);
    expect(stats.tasksRetried).to.equal(0);
    const runners = await dataSource.query(
      "SELECT count(DISTINCT runnerid)::int AS n FROM blog.batchjob WHERE status = 1",
    );
    expect(runners[0].n).to.equal(1);
  });

  it("takes a task whose claim was rolled back while newer tasks keep coming", async function () {
    await queue(dataSource, [noteTask("given up once")]);
    await dataSource
      .transaction(async (manager) => {
        await manager.query("SELECT id FROM blog.batchjob FOR UPDATE");
        throw new Error("round rolled back");
      })
      .catch(() => undefined);
    await queue(
      dataSource,
      Array.from({ length: 40 }, (_, index) => noteTask(`fresh ${index}`)),
    );

    await makeRunner({ batchSize: 1 }).start();

    // Rounds pass over rows touched since they were written, but one round
    // in sixteen claims from the head of the queue, passing over only the
    // rows that peers hold, and a rolled-back claim holds nothing.
    const [first] = await dataSource.query(
      `SELECT count(*)::int AS before FROM blog.batchjob
       WHERE stoppedat < (SELECT stoppedat FROM blog.batchjob WHERE id = 1)`,
    );
    expect(first.before).to.be.below(16);
  });

  it("claims from the head one round in 16, over held rows, and one in 256 over nothing", async function () {
    this.timeout(60_000);
    await queue(
      dataSource,
      Array.from({ length: 300 }, (_, index) => noteTask(`${index}`)),
    );
    const claims: string[] = [];
    const recordingClaim = (
      manager: EntityManager,
      limit: number,
      scope: ClaimScope = {},
    ) => {
      const start = scope.from === undefined ? "head" : "random";
      const fresh = scope.freshOnly ? ", fresh only" : "";
      claims.push(`${start}, past ${scope.passOver ?? "nothing"}${fresh}`);
      return claimPendingTasks(manager, limit, scope);
    };

    await makeRunner({ batchSize: 1 }, { claim: recordingClaim }).start();

    // With 300 tasks at batch 1, none of the first 256 rounds comes up
    // short, so each made exactly one claim.
    const expected = Array.from({ length: 256 }, (_, index) => {
      const round = index + 1;
      if (round % 256 === 0) return "head, past nothing";
      if (round % 16 === 0) return "head, past held";
      // No task waits to retry, so none can be due.
      return "random, past touched, fresh only";
    });
    expect(claims.slice(0, 256)).to.deep.equal(expected);
  });

  it("takes a retry that is due in its first round, wherever it starts", async function () {
    await queue(
      dataSource,
      Array.from({ length: 300 }, (_, index) => noteTask(`${index}`)),
    );
    await dataSource.query(
      `UPDATE blog.batchjob SET notbefore = now() - interval '1 second'
        WHERE id = 150`,
    );

    await makeRunner({ batchSize: 1 }).start();

    const [first] = await dataSource.query(
      "SELECT id::text FROM blog.batchjob ORDER BY startedat LIMIT 1",
    );
    expect(first.id).to.equal("150");
  });

  it("claims up to the batch size per round", async function () {
    await queue(dataSource, ["1", "2", "3", "4", "5"].map(noteTask));

    const stats = await makeRunner({ batchSize: 2 }).start();

    // Three rounds with tasks (2 + 2 + 1) and one that finds none.
    expect(stats.rounds).to.equal(4);
    expect(stats.tasksDone).to.equal(5);
  });

  it("computes every vendor's result to match one SQL aggregate", async function () {
    this.timeout(60_000);
    await loadAdventureWorks(dataSource);
    const vendorIds = (
      await dataSource.query(
        "SELECT businessentityid AS id FROM purchasing.vendor ORDER BY 1",
      )
    ).map((row: { id: number }) => row.id);
    await queue(dataSource, buildVendorTasks(taskRegistry, vendorIds));

    await makeRunner({ batchSize: 10 }, { registry: taskRegistry }).start();

    const check = await verifyVendorJob(dataSource);
    expect(check.problems).to.deep.equal([]);
    expect(check.vendors).to.equal(104);
    expect(printed).to.include("VendorId: 1492, Total: 22678.7715, Items 176.");
    expect(printed).to.have.length(104);
  });

  it("fails tasks with bad input and goes on with the others", async function () {
    await queue(dataSource, [
      noteTask("first"),
      {
        className: "NoSuchTask",
        contractName: "NoteContract",
        contractJson: "{}",
      },
      {
        className: "NoteTask",
        contractName: "NoteContract",
        contractJson: "{not json",
      },
      {
        className: "NoteTask",
        contractName: "NoteContract",
        contractJson: '{"Note":12}',
      },
      {
        className: "NoteTask",
        contractName: "OtherContract",
        contractJson: '{"Note":"x"}',
      },
      noteTask("last"),
    ]);

    const stats = await makeRunner().start();

    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 2, 2, 2, 2, 1]);
    expect(tasks[1].lastError).to.match(
      /^TaskNotRegisteredError: .*"NoSuchTask" is not registered/,
    );
    expect(tasks[2].lastError).to.match(
      /^ContractParseError: .*does not parse/,
    );
    expect(tasks[3].lastError).to.match(
      /^ContractInvalidError: .*note must be a string/,
    );
    expect(tasks[4].lastError).to.match(/^ContractMismatchError: /);
    expect(stats).to.include({ tasksDone: 2, tasksFailed: 4 });
  });

  it("undoes only the failing task's writes within a round", async function () {
    await queue(dataSource, [
      noteTask("kept"),
      noteTask("throw"),
      noteTask("also kept"),
    ]);
    await dataSource.query("UPDATE blog.batchjob SET maxattempts = 1");

    await makeRunner({ batchSize: 3 }).start();

    const notes = await dataSource.query(
      "SELECT note FROM test_output ORDER BY taskid",
    );
    expect(notes.map((row: { note: string }) => row.note)).to.deep.equal([
      "kept",
      "also kept",
    ]);
    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 2, 1]);
    expect(tasks[1].lastError).to.contain("Note task was told to throw");
    expect(printed).to.have.members(["note kept", "note also kept"]);
  });

  /**
   * startBesideHolder locks task 1 in a transaction of its own, as a peer's
   * round does, starts a runner told to stop at an empty queue, and
   * resolves once the runner waits on the held row instead of stopping.
   */
  async function startBesideHolder() {
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query("SELECT id FROM blog.batchjob WHERE id = 1 FOR UPDATE");
    let stopped = false;
    const running = makeRunner({ pollIntervalMs: 60_000 })
      .start()
      .finally(() => (stopped = true));
    try {
      await waitFor("the runner to stop or wait on the held task", async () =>
        stopped ? true : (await lockWaiters(dataSource)) > 0,
      );
      expect(stopped, "stopped while a peer held a task").to.equal(false);
    } catch (error) {
      await holder.rollbackTransaction();
      await holder.release();
      throw error;
    }
    return { holder, running };
  }

  it("skips a task another round holds, and takes it over when that round dies", async function () {
    await queue(dataSource, [noteTask("held"), noteTask("free")]);

    const { holder, running } = await startBesideHolder();
    try {
      expect((await allTasks(dataSource))[1].status).to.equal(TaskStatus.Done);
    } finally {
      // As when the holder's runner dies: its round rolls back.
      await holder.rollbackTransaction();
      await holder.release();
    }

    const stats = await running;
    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 1]);
    expect(stats.tasksDone).to.equal(2);
  });

  it("stops when the last task another round holds ends, without waiting for a poll", async function () {
    await queue(dataSource, [noteTask("held")]);

    const { holder, running } = await startBesideHolder();
    let endedAt: number;
    try {
      await holder.query("UPDATE blog.batchjob SET status = 1 WHERE id = 1");
      await holder.commitTransaction();
      endedAt = Date.now();
    } finally {
      if (holder.isTransactionActive) await holder.rollbackTransaction();
      await holder.release();
    }

    const stats = await running;
    // Well short of the 60 s poll that waiting out the lock would take.
    expect(Date.now() - endedAt).to.be.below(10_000);
    expect(stats.tasksDone).to.equal(0);
  });

  it("retries when its wait on a held task loses its connection", async function () {
    await queue(dataSource, [noteTask("held")]);

    const { holder, running } = await startBesideHolder();
    try {
      await dataSource.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      await waitFor("the runner to wait on the held task again", async () => {
        return (await lockWaiters(dataSource)) > 0;
      });
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
    }

    const stats = await running;
    expect(stats.roundErrors).to.equal(1);
    expect(stats.tasksDone).to.equal(1);
  });

  it("claims each next round in the round trip that commits the last", async function () {
    await queue(dataSource, ["a", "b", "c", "d"].map(noteTask));
    const carried: (boolean | undefined)[] = [];
    const notingClaim = async (
      manager: EntityManager,
      limit: number,
      scope: ClaimScope = {},
    ) => {
      const jobs = await claimPendingTasks(manager, limit, scope);
      carried.push(scope.commitFirst?.committed);
      return jobs;
    };

    const stats = await makeRunner(
      { batchSize: 1 },
      { claim: notingClaim },
    ).start();

    // The first claim stands alone; each full round's commit carries the
    // next claim, the last of them finding the queue empty.
    expect(carried.slice(0, 5)).to.deep.equal([
      undefined,
      true,
      true,
      true,
      true,
    ]);
    expect(stats.tasksDone).to.equal(4);
    expect(printed).to.have.members(["note a", "note b", "note c", "note d"]);
    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 1, 1, 1]);
  });

  it("keeps a round's commit when the claim it carried fails", async function () {
    await queue(dataSource, ["a", "b"].map(noteTask));
    let broken = false;
    const breakingClaim = async (
      manager: EntityManager,
      limit: number,
      scope: ClaimScope = {},
    ) => {
      if (!broken && scope.commitFirst !== undefined) {
        broken = true;
        // A claim that the server rejects after the commit before it ran.
        return claimPendingTasks(manager, limit, {
          ...scope,
          from: "not a number",
        });
      }
      return claimPendingTasks(manager, limit, scope);
    };

    const stats = await makeRunner(
      { batchSize: 1 },
      { claim: breakingClaim },
    ).start();

    expect(broken).to.equal(true);
    expect(stats.roundErrors).to.equal(1);
    expect(stats.tasksDone).to.equal(2);
    const [{ n }] = await dataSource.query(
      "SELECT count(*)::int AS n FROM test_output",
    );
    expect(n).to.equal(2);
    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([1, 1]);
  });

  it("gives back untouched a round claimed on its last commit when stopped", async function () {
    await queue(dataSource, ["a", "b", "c"].map(noteTask));
    let runner: BatchRunner | undefined;
    const stoppingClaim = async (
      manager: EntityManager,
      limit: number,
      scope: ClaimScope = {},
    ) => {
      const jobs = await claimPendingTasks(manager, limit, scope);
      if (scope.commitFirst !== undefined) void runner?.stop();
      return jobs;
    };
    runner = makeRunner(
      { batchSize: 1, untilEmpty: false },
      { claim: stoppingClaim },
    );

    const stats = await runner.start();

    expect(stats.tasksDone).to.equal(1);
    expect(await pendingCount(dataSource)).to.equal(2);
    const [{ attempts }] = await dataSource.query(
      "SELECT count(*)::int AS attempts FROM blog.batchjobattempt",
    );
    expect(attempts).to.equal(1);
    // No transaction of the runner holds the claimed task any longer.
    const free = await dataSource.transaction((manager) =>
      manager.query(
        "SELECT id FROM blog.batchjob WHERE status = 0 FOR UPDATE SKIP LOCKED",
      ),
    );
    expect(free).to.have.length(2);
  });

  it("retries a round that REPEATABLE READ refuses and runs the task once", async function () {
    await queue(dataSource, [noteTask("contended")]);
    let provoked = false;
    // Take the round's snapshot, then let another transaction change the
    // row and commit before the claim locks it: PostgreSQL must refuse the
    // lock with 40001, exactly as when two runners race.
    const racingClaim = async (
      manager: EntityManager,
      limit: number,
      scope: ClaimScope = {},
    ) => {
      if (!provoked && scope.begin !== undefined) {
        provoked = true;
        await beginTransaction(manager.queryRunner!, scope.begin);
        await manager.query("SELECT 1 FROM blog.batchjob LIMIT 1");
        await dataSource.query(
          "UPDATE blog.batchjob SET contractjson = contractjson",
        );
        return claimPendingTasks(manager, limit);
      }
      return claimPendingTasks(manager, limit, scope);
    };

    const stats = await makeRunner({}, { claim: racingClaim }).start();

    expect(stats.serializationRetries).to.equal(1);
    expect(stats.roundErrors).to.equal(0);
    expect(stats.tasksDone).to.equal(1);
    const outputs = await dataSource.query(
      "SELECT count(*)::int AS n FROM test_output",
    );
    expect(outputs[0].n).to.equal(1);
    expect(printed).to.deep.equal(["note contended"]);
  });

  it("raises 40001 when a claimed row changed after the snapshot", async function () {
    await queue(dataSource, [noteTask("contended")]);
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction("REPEATABLE READ");
    await runner.query("SELECT 1");
    await dataSource.query(
      "UPDATE blog.batchjob SET contractjson = contractjson",
    );

    const claimed = claimPendingTasks(runner.manager, 1);

    const error = await claimed.then(
      () => undefined,
      (e: unknown) => e,
    );
    await runner.rollbackTransaction();
    await runner.release();
    expect(sqlStateOf(error)).to.equal(SqlState.SerializationFailure);
  });

  it("waits for new tasks when not told to stop at an empty queue", async function () {
    const runner = makeRunner({ untilEmpty: false, pollIntervalMs: 20 });
    const finished = runner.start();

    await queue(dataSource, [noteTask("late")]);
    await waitFor(
      "the late task to be done",
      async () => (await pendingCount(dataSource)) === 0,
    );
    const stats = await runner.stop();

    await finished;
    expect(stats.tasksDone).to.equal(1);
  });

  it("wakes at once when tasks are queued instead of waiting for its poll", async function () {
    const runner = makeRunner({ untilEmpty: false, pollIntervalMs: 60_000 });
    const finished = runner.start();
    const listener = listenForQueued(
      database.settings,
      () => runner.wake(),
      silentLogger,
    );
    await waitFor(
      "the runner to go idle",
      async () => runner.stats.rounds >= 2,
    );

    try {
      await queue(dataSource, [noteTask("announced")]);
      await waitFor(
        "the announced task to be done",
        async () => (await pendingCount(dataSource)) === 0,
        5_000,
      );
    } finally {
      await listener.close();
      await runner.stop();
      await finished;
    }
    expect(printed).to.deep.equal(["note announced"]);
  });

  it("stops safely when stop is called twice, concurrently or before start", async function () {
    const idle = makeRunner({ untilEmpty: false, pollIntervalMs: 20 });
    await idle.stop();
    const running = makeRunner({ untilEmpty: false, pollIntervalMs: 20 });
    running.start();

    const [first, second] = await Promise.all([running.stop(), running.stop()]);

    expect(first).to.deep.equal(second);
    expect(() => running.start()).to.throw(TypeError);
  });

  it("stops with RunnerFailedError when its own statements can never succeed", async function () {
    await queue(dataSource, [noteTask("unreachable")]);
    const brokenClaim = async (manager: EntityManager) => {
      await manager.query("SELECT * FROM no_such_table");
      return [];
    };

    const error = await makeRunner({}, { claim: brokenClaim })
      .start()
      .then(
        () => undefined,
        (e: unknown) => e,
      );

    expect(error).to.be.instanceOf(RunnerFailedError);
    expect((error as Error).message).to.match(
      /no_such_table.*check the schema and the role's grants/,
    );
  });

  it("writes a heartbeat while running and marks it stopped at the end", async function () {
    await queue(dataSource, [noteTask("a"), noteTask("b")]);
    const runner = makeRunner({
      untilEmpty: false,
      pollIntervalMs: 20,
      heartbeatIntervalMs: 100,
    });
    runner.start();
    const heartbeat = () =>
      dataSource.query(
        "SELECT * FROM blog.runnerheartbeat WHERE runnerid = 'test-runner'",
      );

    await waitFor(
      "a heartbeat counting both tasks",
      async () => (await heartbeat())[0]?.tasksdone === 2,
    );
    const [alive] = await heartbeat();
    await runner.stop();

    const [stopped] = await heartbeat();
    expect(alive).to.include({
      pid: process.pid,
      tasksfailed: 0,
      tasksinhand: 0,
      stoppedat: null,
    });
    expect(stopped.stoppedat).to.be.instanceOf(Date);
    expect(stopped.lastseenat.getTime()).to.be.at.least(
      alive.lastseenat.getTime(),
    );
  });

  it("logs its progress at a heartbeat after tasks ended, and nothing when idle", async function () {
    await queue(dataSource, [noteTask("a"), noteTask("b")]);
    const events: { message: string; fields: LogFields }[] = [];
    const capture: Logger = {
      debug: () => undefined,
      info: (message, fields = {}) => events.push({ message, fields }),
      warn: () => undefined,
      error: () => undefined,
      child: () => capture,
    };
    const runner = makeRunner(
      { untilEmpty: false, pollIntervalMs: 20, heartbeatIntervalMs: 100 },
      { log: capture },
    );
    runner.start();
    const progress = () =>
      events.filter((event) => event.message === "Runner progress");

    await waitFor("progress counting both tasks", () =>
      progress().some((event) => event.fields.tasksDone === 2),
    );
    const lines = progress().length;
    // Idle beats follow; none of them may log progress.
    await new Promise((resolve) => setTimeout(resolve, 350));
    await runner.stop();

    expect(progress()).to.have.length(lines);
    const last = progress()[lines - 1].fields;
    expect(last).to.include({ tasksDone: 2, tasksFailed: 0, tasksInHand: 0 });
    expect(last.tasksPerSecond).to.be.above(0);
  });

  it("records nothing for a round whose commit never happens", async function () {
    await queue(dataSource, [noteTask("lost")]);
    let rounds = 0;
    const failingOnce = async (
      manager: EntityManager,
      limit: number,
      scope?: ClaimScope,
    ) => {
      const jobs = await claimPendingTasks(manager, limit, scope);
      rounds += 1;
      // Break the round after the claim: a machinery failure, not the task's.
      if (rounds === 1) throw new Error("Connection terminated unexpectedly");
      return jobs;
    };

    const stats = await makeRunner({}, { claim: failingOnce }).start();

    expect(stats.roundErrors).to.equal(1);
    expect(stats.tasksDone).to.equal(1);
    const tasks = await allTasks(dataSource);
    expect(tasks[0].status).to.equal(TaskStatus.Done);
  });
});
