import { expect } from "chai";
import { Expose } from "class-transformer";
import { IsIn, IsInt, IsOptional } from "class-validator";
import type { DataSource } from "typeorm";
import type { ITaskfy, TaskContext } from "../../Contracts/ITaskfy";
import { silentLogger } from "../../Contracts/Logger";
import { NonRetryableError } from "../../Contracts/taskErrors";
import { TaskRegistry } from "../../Contracts/TaskRegistry";
import { migrate } from "../../DataLayer/migrate";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { BatchRunner } from "../../SimpleBatchRunner/BatchRunner";
import {
  RunnerOptions,
  validateRunnerOptions,
} from "../../SimpleBatchRunner/RunnerOptions";
import { allTasks, queue, waitFor } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

const MODES = [
  "ok",
  "flaky",
  "throw",
  "refuse",
  "sleep-in-db",
  "wait-for-abort",
  "ignore-abort",
] as const;

class ProbeContract {
  @Expose({ name: "Mode" })
  @IsIn(MODES)
  mode!: (typeof MODES)[number];

  /** For "flaky": how many attempts throw before one succeeds. */
  @Expose({ name: "Failures" })
  @IsOptional()
  @IsInt()
  failures?: number;
}

/** Calls per task id, across attempts, to tell attempts apart. */
const calls = new Map<string, number>();

/** ProbeTask does what its contract's mode says, writing a row when it succeeds. */
class ProbeTask implements ITaskfy<ProbeContract> {
  async execute(contract: ProbeContract, context: TaskContext): Promise<void> {
    const call = (calls.get(context.taskId) ?? 0) + 1;
    calls.set(context.taskId, call);
    await context.manager.query(
      "INSERT INTO probe_output (taskid, call) VALUES ($1, $2)",
      [context.taskId, call],
    );

    switch (contract.mode) {
      case "ok":
        return;
      case "flaky":
        if (call <= (contract.failures ?? 0))
          throw new Error(`Flaky failure ${call}`);
        return;
      case "throw":
        throw new Error("Probe always throws");
      case "refuse":
        throw new NonRetryableError("Probe input can never work");
      case "sleep-in-db":
        await context.manager.query("SELECT pg_sleep(30)");
        return;
      case "wait-for-abort":
        await new Promise((_, reject) =>
          context.signal.addEventListener("abort", () =>
            reject(context.signal.reason),
          ),
        );
        return;
      case "ignore-abort":
        await new Promise(() => undefined);
    }
  }
}

function probeRegistry(): TaskRegistry {
  const registry = new TaskRegistry();
  registry.registerContract("ProbeContract", ProbeContract);
  registry.registerTask("ProbeTask", ProbeTask, ProbeContract);
  return registry;
}

function probe(mode: ProbeContract["mode"], failures?: number) {
  return {
    className: "ProbeTask",
    contractName: "ProbeContract",
    contractJson: JSON.stringify(
      failures === undefined
        ? { Mode: mode }
        : { Mode: mode, Failures: failures },
    ),
  };
}

describe("BatchRunner failures and retries", function () {
  this.timeout(30_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    calls.clear();
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await dataSource.query(
      "CREATE TABLE probe_output (taskid bigint, call int, PRIMARY KEY (taskid, call))",
    );
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  function runner(options: Partial<RunnerOptions> = {}): BatchRunner {
    return new BatchRunner(
      {
        dataSource,
        registry: probeRegistry(),
        log: silentLogger,
        print: () => undefined,
      },
      validateRunnerOptions({
        runnerId: "retry-runner",
        untilEmpty: true,
        retryBaseMs: 20,
        retryMaxMs: 40,
        ...options,
      }),
    );
  }

  /** drain runs until no task is pending, as several --until-empty runs would. */
  async function drain(options: Partial<RunnerOptions> = {}): Promise<void> {
    const serving = runner({
      untilEmpty: false,
      pollIntervalMs: 10,
      ...options,
    });
    const loop = serving.start();
    await waitFor(
      "the queue to drain",
      async () => {
        const [row] = await dataSource.query(
          "SELECT count(*)::int AS n FROM blog.batchjob WHERE status = 0",
        );
        return row.n === 0;
      },
      25_000,
    );
    await serving.stop();
    await loop;
  }

  async function attemptsOf(taskId: string): Promise<number> {
    const rows = await dataSource.query(
      "SELECT attempts FROM blog.batchjobattempt WHERE taskid = $1",
      [taskId],
    );
    return rows[0]?.attempts ?? 0;
  }

  async function outputsOf(taskId: string): Promise<number[]> {
    const rows = await dataSource.query(
      "SELECT call FROM probe_output WHERE taskid = $1 ORDER BY call",
      [taskId],
    );
    return rows.map((row: { call: number }) => row.call);
  }

  it("retries a task that throws until it succeeds, keeping only the last attempt's writes", async function () {
    await queue(dataSource, [probe("flaky", 2)]);

    await drain();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Done);
    expect(await attemptsOf(task.id)).to.equal(3);
    expect(await outputsOf(task.id)).to.deep.equal([3]);
  });

  it("waits between attempts for a delay that doubles, with jitter", async function () {
    await queue(dataSource, [probe("throw")]);
    const serving = runner({
      untilEmpty: false,
      retryBaseMs: 60_000,
      retryMaxMs: 600_000,
    });
    const loop = serving.start();
    await waitFor(
      "the first attempt to fail",
      async () => (await allTasks(dataSource))[0].lastError !== null,
    );
    await serving.stop();
    await loop;

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Pending);
    const waitMs = task.notBefore!.getTime() - task.stoppedAt!.getTime();
    expect(waitMs).to.be.within(30_000, 60_000);
    expect(task.lastError).to.match(/^Error: Probe always throws/);
  });

  it("does not stop at an empty queue while a task waits to retry", async function () {
    await queue(dataSource, [probe("flaky", 1)]);

    const stats = await runner({ retryBaseMs: 100, retryMaxMs: 100 }).start();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Done);
    expect(stats).to.include({ tasksRetried: 1, tasksDone: 1 });
  });

  it("fails a task for good after its last attempt and keeps the reason", async function () {
    await queue(dataSource, [probe("throw")]);
    await dataSource.query("UPDATE blog.batchjob SET maxattempts = 3");

    await drain();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Failed);
    expect(await attemptsOf(task.id)).to.equal(3);
    expect(task.lastError).to.match(/^Error: Probe always throws\n\s+at /);
    expect(await outputsOf(task.id)).to.deep.equal([]);
  });

  it("fails bad input at once, without spending more attempts", async function () {
    await queue(dataSource, [
      {
        className: "NoSuchTask",
        contractName: "ProbeContract",
        contractJson: '{"Mode":"ok"}',
      },
      {
        className: "ProbeTask",
        contractName: "ProbeContract",
        contractJson: '{"Mode":"dance"}',
      },
      probe("refuse"),
    ]);

    await drain();

    const tasks = await allTasks(dataSource);
    expect(tasks.map((task) => task.status)).to.deep.equal([2, 2, 2]);
    expect(tasks.map((task) => task.lastError?.split(":")[0])).to.deep.equal([
      "TaskNotRegisteredError",
      "ContractInvalidError",
      "NonRetryableError",
    ]);
    for (const task of tasks) expect(await attemptsOf(task.id)).to.equal(1);
  });

  it("cancels a statement that runs past the task's time limit", async function () {
    await queue(dataSource, [probe("sleep-in-db")]);
    await dataSource.query(
      "UPDATE blog.batchjob SET timeoutms = 200, maxattempts = 1",
    );
    const started = Date.now();

    await runner().start();

    const [task] = await allTasks(dataSource);
    expect(Date.now() - started).to.be.below(10_000);
    expect(task.status).to.equal(TaskStatus.Failed);
    expect(task.lastError).to.match(
      /^TaskTimeoutError: Task 1 ran past its time limit of 200 ms/,
    );
  });

  it("aborts a task's signal when it runs past the runner's time limit", async function () {
    await queue(dataSource, [probe("wait-for-abort")]);
    await dataSource.query("UPDATE blog.batchjob SET maxattempts = 1");

    await runner({ taskTimeoutMs: 100 }).start();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Failed);
    expect(task.lastError).to.match(/^TaskTimeoutError: .*100 ms/);
  });

  it("rolls back the round of a task that ignores its abort, spending its attempt", async function () {
    await queue(dataSource, [probe("ignore-abort")]);
    await dataSource.query(
      "UPDATE blog.batchjob SET timeoutms = 50, maxattempts = 1",
    );

    await drain();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Failed);
    expect(await attemptsOf(task.id)).to.equal(2);
    expect(task.lastError).to.match(
      /^AttemptsExhaustedError: Task 1 was claimed 2 times and may run 1/,
    );
  });

  it("fails without running a task whose runners kept dying", async function () {
    await queue(dataSource, [probe("ok")]);
    // As if five runners had claimed it and been killed before recording.
    await dataSource.query(
      "INSERT INTO blog.batchjobattempt VALUES (1, 5, 'dead-runner', now())",
    );

    await runner().start();

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Failed);
    expect(task.lastError).to.contain("claimed 6 times and may run 5");
    expect(await outputsOf(task.id)).to.deep.equal([]);
  });

  it("lets a task in hand finish when stopped within the grace period", async function () {
    await queue(dataSource, [probe("ok")]);
    const held = runner({
      untilEmpty: false,
      holdMs: 300,
      shutdownGraceMs: 5_000,
    });
    const loop = held.start();
    await waitFor(
      "the task to be claimed",
      async () => (await attemptsOf("1")) === 1,
    );

    await held.stop();
    await loop;

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Done);
  });

  it("refunds each attempt once when a round that set a suspect apart is cut off", async function () {
    await queue(dataSource, [probe("wait-for-abort"), probe("wait-for-abort")]);
    // Both were claimed once before by a runner that died: one is run
    // alone, the other given back with its attempt refunded.
    await dataSource.query(
      `INSERT INTO blog.batchjobattempt
       VALUES (1, 1, 'dead-runner', now()), (2, 1, 'dead-runner', now())`,
    );
    const held = runner({
      untilEmpty: false,
      batchSize: 2,
      shutdownGraceMs: 50,
    });
    const loop = held.start();
    await waitFor("the suspect to start", async () => calls.size === 1);

    await held.stop();
    await loop;

    expect(calls.size).to.equal(1);
    expect(await attemptsOf("1")).to.equal(1);
    expect(await attemptsOf("2")).to.equal(1);
  });

  it("gives a task cut off by shutdown back without spending an attempt", async function () {
    await queue(dataSource, [probe("wait-for-abort")]);
    const held = runner({ untilEmpty: false, shutdownGraceMs: 50 });
    const loop = held.start();
    await waitFor("the task to start", async () => calls.get("1") === 1);

    await held.stop();
    await loop;

    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Pending);
    expect(task.lastError).to.equal(null);
    expect(await attemptsOf(task.id)).to.equal(0);
    expect(await outputsOf(task.id)).to.deep.equal([]);
  });
});
