import * as path from "node:path";
import { expect } from "chai";
import type { DataSource } from "typeorm";
import { createChaosTables } from "../../Demo/chaos/ChaosTask";
import type { NewTask } from "../../DataLayer/enqueue";
import type { BatchJob } from "../../DataLayer/entities/BatchJob";
import { migrate } from "../../DataLayer/migrate";
import { createRandom, pick, randomInt } from "../../DataLayer/sample/random";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import {
  allTasks,
  CHECKOUT,
  lockWaiters,
  queue,
  waitFor,
} from "../support/fixtures";
import { RunnerProcess, RunnerProcesses } from "../support/runnerProcess";
import {
  createTestDatabase,
  embeddedServer,
  TestDatabase,
} from "../support/testServer";

const CHAOS_TASKS = path.join(
  CHECKOUT,
  "dist",
  "Demo",
  "chaos",
  "ChaosTask.js",
);

/** What the runner logs, at debug level, once its loop runs. */
const STARTED = "Runner started";

/** The application_name of a serving runner's LISTEN connection. */
const LISTENER = "batch-listener";

/** What the runner logs when a round fails in its own machinery. */
const ROUND_FAILED = "Round failed, retrying";

function chaos(mode: string, workMs?: number): NewTask {
  return {
    className: "ChaosTask",
    contractName: "ChaosContract",
    contractJson: JSON.stringify({ Mode: mode, WorkMs: workMs }),
  };
}

function repeat<T>(count: number, make: () => T): T[] {
  return Array.from({ length: count }, make);
}

describe("runner processes that crash, freeze or are stopped", function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let dataSource: DataSource;
  let runners: RunnerProcesses;

  beforeEach(async function () {
    runners = new RunnerProcesses();
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await createChaosTables(dataSource);
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      console.error(`Runner logs:\n${runners.describe()}`);
    }
    await runners?.killAll();
    await dataSource?.destroy();
    await database?.drop();
  });

  function startRunner(id: string, args: readonly string[]): RunnerProcess {
    return runners.start({
      id,
      args: ["--tasks", CHAOS_TASKS, ...args],
      env: { ...database.env, LOG_LEVEL: "debug" },
    });
  }

  /**
   * heldTasks maps each runner with a round open to the pending tasks it
   * holds: rows whose attempt it counted since its round's transaction
   * began. A session with a transaction id has locked rows; an empty claim
   * would not have one.
   */
  async function heldTasks(): Promise<Map<string, string[]>> {
    const rows: { runnerid: string; taskids: string[] }[] =
      await dataSource.query(
        `SELECT attempt.runnerid,
                array_agg(DISTINCT attempt.taskid::text) AS taskids
         FROM pg_stat_activity activity
         JOIN blog.batchjobattempt attempt
           ON activity.application_name = 'batch-runner:' || attempt.runnerid
          AND attempt.claimedat >= activity.xact_start
         JOIN blog.batchjob job
           ON job.id = attempt.taskid AND job.status = $1
         WHERE activity.datname = current_database()
           AND activity.state IN ('idle in transaction', 'active')
           AND activity.backend_xid IS NOT NULL
         GROUP BY attempt.runnerid`,
        [TaskStatus.Pending],
      );
    return new Map(rows.map((row) => [row.runnerid, row.taskids]));
  }

  async function waitUntilHolding(runner: RunnerProcess): Promise<string[]> {
    let held: string[] = [];
    await waitFor(
      `runner ${runner.id} to hold a task`,
      async () => {
        held = (await heldTasks()).get(runner.id) ?? [];
        return held.length > 0;
      },
      20_000,
    );
    return held;
  }

  /** sessionStates lists the states of a runner's database sessions. */
  async function sessionStates(runnerId: string): Promise<string[]> {
    const rows: { state: string }[] = await dataSource.query(
      `SELECT state FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = $1
         AND backend_xid IS NOT NULL`,
      [`batch-runner:${runnerId}`],
    );
    return rows.map((row) => row.state);
  }

  /** sessionsGone waits until the server has ended a runner's sessions. */
  async function sessionsGone(runnerId: string): Promise<void> {
    await waitFor(`the sessions of ${runnerId} to end`, async () => {
      const [row] = await dataSource.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = $1`,
        [`batch-runner:${runnerId}`],
      );
      return row.n === 0;
    });
  }

  async function statusCounts(): Promise<Record<TaskStatus, number>> {
    const [row] = await dataSource.query(
      `SELECT count(*) FILTER (WHERE status = $1)::int AS pending,
              count(*) FILTER (WHERE status = $2)::int AS done,
              count(*) FILTER (WHERE status = $3)::int AS failed
       FROM blog.batchjob`,
      [TaskStatus.Pending, TaskStatus.Done, TaskStatus.Failed],
    );
    return {
      [TaskStatus.Pending]: row.pending,
      [TaskStatus.Done]: row.done,
      [TaskStatus.Failed]: row.failed,
    } as Record<TaskStatus, number>;
  }

  async function attemptsByTask(): Promise<Map<string, number>> {
    const rows: { taskid: string; attempts: number }[] = await dataSource.query(
      "SELECT taskid, attempts FROM blog.batchjobattempt",
    );
    return new Map(rows.map((row) => [String(row.taskid), row.attempts]));
  }

  async function results(): Promise<{ taskid: string; runnerid: string }[]> {
    const rows: { taskid: string; runnerid: string }[] = await dataSource.query(
      `SELECT written.taskid::text AS taskid, written.runnerid
       FROM chaos.result AS written ORDER BY written.taskid`,
    );
    return rows;
  }

  /** lockedPendingTasks lists pending tasks that some session holds. */
  async function lockedPendingTasks(): Promise<string[]> {
    const all: { id: string }[] = await dataSource.query(
      "SELECT id::text FROM blog.batchjob WHERE status = $1",
      [TaskStatus.Pending],
    );
    const free: { id: string }[] = await dataSource.query(
      `SELECT id::text FROM blog.batchjob WHERE status = $1
       FOR UPDATE SKIP LOCKED`,
      [TaskStatus.Pending],
    );
    const freeIds = new Set(free.map((row) => row.id));
    return all.map((row) => row.id).filter((id) => !freeIds.has(id));
  }

  /** listenerCount counts the queue listeners' sessions on this database. */
  async function listenerCount(): Promise<number> {
    const [row] = await dataSource.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database()
         AND (application_name = $1 OR application_name LIKE $1 || ':%')`,
      [LISTENER],
    );
    return row.n;
  }

  /**
   * stopAll sends SIGTERM to every running runner and returns their exits.
   * It first waits for each runner to have started its loop and for every
   * queue listener to be connected: a runner signalled sooner dies of the
   * signal or never exits (see the skipped tests).
   */
  async function stopAll(timeoutMs = 15_000) {
    const running = runners.running;
    await Promise.all(
      running.map((runner) => runner.waitForLog(STARTED, 30_000)),
    );
    await waitFor(
      "every runner's queue listener to connect",
      async () => {
        return (await listenerCount()) >= running.length;
      },
      15_000,
    );
    for (const runner of running) runner.signal("SIGTERM");
    return Promise.all(
      running.map(async (runner) => ({
        id: runner.id,
        ...(await runner.exitWithin(timeoutMs)),
      })),
    );
  }

  /** expectEachDoneOnce checks every task is done, with one result each. */
  async function expectEachDoneOnce(): Promise<void> {
    const tasks = await allTasks(dataSource);
    const notDone = tasks.filter((task) => task.status !== TaskStatus.Done);
    expect(notDone, "tasks not done").to.deep.equal([]);

    // The result row's key makes a second write impossible; the row must
    // also come from the runner that recorded the task as done.
    const written = await results();
    expect(written.map((row) => row.taskid)).to.deep.equal(
      tasks.map((task) => task.id),
    );
    const doneBy = new Map(tasks.map((task) => [task.id, task.runnerId]));
    for (const row of written) {
      expect(row.runnerid, `writer of task ${row.taskid}`).to.equal(
        doneBy.get(row.taskid),
      );
    }
  }

  /** Kill is a runner killed while it held tasks. */
  interface Kill {
    readonly runnerId: string;
    readonly taskIds: readonly string[];
  }

  /**
   * killOneHolding SIGKILLs a running runner that holds tasks, picked by
   * `random`, and resolves once the server has ended its sessions, so the
   * fate of its round (rolled back, or committed just before) is settled.
   */
  async function killOneHolding(random: () => number): Promise<Kill> {
    let holders: [string, string[]][] = [];
    await waitFor(
      "a running runner to hold tasks",
      async () => {
        const running = new Set(runners.running.map((runner) => runner.id));
        holders = [...(await heldTasks())].filter(([id]) => running.has(id));
        return holders.length > 0;
      },
      20_000,
    );
    const [runnerId, taskIds] = pick(random, holders);
    const victim = runners.all.find((runner) => runner.id === runnerId)!;

    victim.signal("SIGKILL");
    expect((await victim.exitWithin(5000)).signal).to.equal("SIGKILL");
    await sessionsGone(runnerId);
    return { runnerId, taskIds };
  }

  /** lostTasks are the tasks of a kill that the killed runner never did. */
  async function lostTasks(kill: Kill): Promise<BatchJob[]> {
    const tasks = await allTasks(dataSource);
    return tasks.filter(
      (task) =>
        kill.taskIds.includes(task.id) && task.runnerId !== kill.runnerId,
    );
  }

  it("a runner killed with SIGKILL mid-task loses nothing and writes nothing twice", async function () {
    const random = createRandom(20_260_611);
    await queue(
      dataSource,
      repeat(40, () => chaos("work", 100)),
    );
    const startServing = () => {
      const batchSize = String(randomInt(random, 1, 5));
      startRunner(`runner-${runners.all.length + 1}`, [
        "--batch-size",
        batchSize,
        "--poll-ms",
        "50",
      ]);
    };
    repeat(3, startServing);
    const killAtDone = repeat(5, () => randomInt(random, 0, 20));

    // Each kill hits a runner holding tasks at a seeded point of progress.
    // A round that commits between the look and the kill loses nothing;
    // such a kill does not count, and another runner is picked.
    const kills: Kill[] = [];
    for (const doneAtLeast of killAtDone.sort((a, b) => a - b)) {
      await waitFor(
        `${doneAtLeast} tasks done`,
        async () => {
          return (await statusCounts())[TaskStatus.Done] >= doneAtLeast;
        },
        20_000,
      );
      let kill: Kill;
      do {
        kill = await killOneHolding(random);
        startServing();
      } while ((await lostTasks(kill)).length === 0);
      kills.push(kill);
    }
    await waitFor(
      "no task pending",
      async () => {
        return (await statusCounts())[TaskStatus.Pending] === 0;
      },
      30_000,
    );
    const exits = await stopAll();

    expect(exits.filter((exit) => exit.code !== 0)).to.deep.equal([]);
    await expectEachDoneOnce();
    const attempts = await attemptsByTask();
    for (const task of await allTasks(dataSource)) {
      const spent = attempts.get(task.id);
      expect(spent, `attempts of ${task.id}`).to.be.at.least(1);
    }
    // The runner killed with its tasks counted an attempt for at least one
    // of them: the task it was running. Tasks it had claimed only to give
    // back, because it ran a task claimed before on its own, were refunded.
    for (const kill of kills) {
      const spent = (await lostTasks(kill)).map(
        (task) => attempts.get(task.id) ?? 0,
      );
      expect(
        Math.max(...spent),
        `attempts of ${kill.taskIds.join(", ")}`,
      ).to.be.at.least(2);
    }
  });

  it("a runner killed holding the last task leaves it to one told to stop at an empty queue", async function () {
    await queue(dataSource, [chaos("work", 5000)]);
    const holder = startRunner("holder", ["--until-empty"]);
    expect(await waitUntilHolding(holder)).to.deep.equal(["1"]);
    await queue(
      dataSource,
      repeat(5, () => chaos("work", 10)),
    );
    const finisher = startRunner("finisher", ["--until-empty"]);
    await waitFor(
      "the finisher to run the other tasks",
      async () => (await statusCounts())[TaskStatus.Done] === 5,
      20_000,
    );
    // Nothing is left for it to claim; it waits on the holder's row.
    await waitFor(
      "the finisher to wait on the held task, or stop",
      async () => !finisher.running || (await lockWaiters(dataSource)) > 0,
      20_000,
    );
    expect(finisher.running, "stopped while a task was held").to.equal(true);

    holder.signal("SIGKILL");

    expect((await finisher.exitWithin(20_000)).code).to.equal(0);
    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Done);
    expect(task.runnerId).to.equal("finisher");
    expect((await attemptsByTask()).get("1")).to.equal(2);
    await expectEachDoneOnce();
  });

  it("survives a database restart mid-run and does every task exactly once", async function () {
    const server = embeddedServer();
    if (server === undefined) this.skip();
    await queue(
      dataSource,
      repeat(200, () => chaos("work", 10)),
    );
    const serving = [1, 2, 3, 4].map((index) =>
      startRunner(`runner-${index}`, ["--poll-ms", "50"]),
    );

    await waitFor(
      "a third of the tasks done",
      async () => {
        return (await statusCounts())[TaskStatus.Done] >= 67;
      },
      20_000,
    );
    const beforeRestart = serving.map((runner) => runner.stderr.length);
    await server.restart();
    // The test's own pool lost its connections too; a poll that meets a
    // dead one counts as "not yet".
    await waitFor(
      "every task done",
      async () => {
        const counts = await statusCounts().catch(() => undefined);
        return counts?.[TaskStatus.Done] === 200;
      },
      30_000,
    );
    const stillRunning = serving.filter((runner) => runner.running);
    const exits = await stopAll();

    expect(stillRunning.map((runner) => runner.id)).to.deep.equal(
      serving.map((runner) => runner.id),
    );
    expect(exits.filter((exit) => exit.code !== 0)).to.deep.equal([]);
    await expectEachDoneOnce();
    const failedRounds = serving.map((runner, index) =>
      runner.stderr
        .slice(beforeRestart[index])
        .filter((line) => line.json?.msg === ROUND_FAILED),
    );
    // Every runner was mid-round when the server went away.
    serving.forEach((runner, index) => {
      expect(failedRounds[index], runner.id).to.not.be.empty;
    });
    for (const line of failedRounds.flat()) {
      expect(line.json?.level).to.equal("error");
    }
    // A crash, or an error nobody caught, prints a stack: lines not JSON.
    for (const runner of serving) {
      const notLogs = runner.stderr.filter((line) => line.json === undefined);
      expect(
        notLogs.map((line) => line.raw),
        runner.id,
      ).to.deep.equal([]);
    }
  });

  it("SIGTERM lets tasks in hand finish, then exits 0", async function () {
    await queue(dataSource, [chaos("work", 2000)]);
    const runner = startRunner("stopping", [
      "--shutdown-grace-ms",
      "5000",
      "--poll-ms",
      "50",
    ]);
    const [first] = await waitUntilHolding(runner);
    // Queued while the runner is busy: a runner that stops claims no more.
    await queue(dataSource, [chaos("work", 0)]);
    const [, second] = await allTasks(dataSource);

    const signalledAt = Date.now();
    runner.signal("SIGTERM");
    const exit = await runner.exitWithin(10_000);

    expect(exit).to.deep.equal({ code: 0, signal: null });
    const [done, untouched] = await allTasks(dataSource);
    expect(done.status).to.equal(TaskStatus.Done);
    expect(done.stoppedAt!.getTime()).to.be.at.least(signalledAt);
    expect(await results()).to.deep.equal([
      { taskid: first, runnerid: "stopping" },
    ]);
    // It stopped claiming: the second task was never taken.
    expect(untouched.status).to.equal(TaskStatus.Pending);
    expect((await attemptsByTask()).has(second.id)).to.equal(false);
    expect(await lockedPendingTasks()).to.deep.equal([]);
  });

  it("SIGTERM after the grace period gives the task back without spending an attempt", async function () {
    await queue(dataSource, [chaos("work", 20_000)]);
    const runner = startRunner("impatient", ["--shutdown-grace-ms", "300"]);
    const [held] = await waitUntilHolding(runner);

    const signalledAt = Date.now();
    runner.signal("SIGTERM");
    const exit = await runner.exitWithin(10_000);
    const stoppedInMs = Date.now() - signalledAt;

    expect(exit).to.deep.equal({ code: 0, signal: null });
    expect(stoppedInMs).to.be.below(5000);
    const [task] = await allTasks(dataSource);
    expect(task.id).to.equal(held);
    expect(task.status).to.equal(TaskStatus.Pending);
    expect(task.lastError).to.equal(null);
    expect((await attemptsByTask()).get(task.id)).to.equal(0);
    expect(await results()).to.deep.equal([]);
    expect(await lockedPendingTasks()).to.deep.equal([]);
    const givenBack = runner.logs("Round given back to the queue");
    expect(givenBack.map((event) => event.reason)).to.deep.equal(["shutdown"]);
  });

  it("a second SIGTERM gives the attempt back and exits at once with 130", async function () {
    await queue(dataSource, [chaos("work", 20_000)]);
    const runner = startRunner("twice", ["--shutdown-grace-ms", "30000"]);
    await waitUntilHolding(runner);

    runner.signal("SIGTERM");
    await runner.waitForLog(
      "Stopping: no more claims, finishing the tasks in hand",
    );
    const signalledAt = Date.now();
    runner.signal("SIGTERM");
    const exit = await runner.exitWithin(10_000);
    const stoppedInMs = Date.now() - signalledAt;

    expect(exit).to.deep.equal({ code: 130, signal: null });
    expect(stoppedInMs).to.be.below(2000);
    await sessionsGone("twice");
    const [task] = await allTasks(dataSource);
    expect(task.status).to.equal(TaskStatus.Pending);
    expect((await attemptsByTask()).get(task.id)).to.equal(0);
    expect(
      runner.logs("Attempts of the tasks in hand given back"),
    ).to.have.lengthOf(1);
    expect(await results()).to.deep.equal([]);
    expect(await lockedPendingTasks()).to.deep.equal([]);
  });

  it("a SIGTERM while the runner is still starting exits 0", async function () {
    const runner = startRunner("early", []);
    // Past Node's own start, whose default is to die by the signal, and
    // before the runner has connected.
    await runner.waitForLog("Runner starting");

    runner.signal("SIGTERM");
    const exit = await runner.exitWithin(10_000);

    expect(exit).to.deep.equal({ code: 0, signal: null });
  });

  it("a SIGTERM as soon as the loop starts still exits 0", async function () {
    const started = repeat(10, () =>
      startRunner(`early-${runners.all.length + 1}`, ["--poll-ms", "50"]),
    );

    const exits = await Promise.all(
      started.map(async (runner) => {
        await runner.waitForLog(STARTED, 45_000);
        runner.signal("SIGTERM");
        return runner.exitWithin(10_000).catch(() => "still running");
      }),
    );

    expect(exits).to.deep.equal(repeat(10, () => ({ code: 0, signal: null })));
  });

  it("a frozen runner (SIGSTOP) loses its tasks to others once the stall bound passes", async function () {
    await queue(dataSource, [chaos("work", 0)]);
    const frozen = startRunner("frozen", [
      "--stall-timeout-ms",
      "1500",
      "--hold-ms",
      "1000",
      "--poll-ms",
      "50",
    ]);
    const [taskId] = await waitUntilHolding(frozen);

    frozen.signal("SIGSTOP");
    const frozenAt = Date.now();
    await waitFor("the frozen round to sit idle in transaction", async () => {
      const states = await sessionStates("frozen");
      return states.length === 1 && states[0] === "idle in transaction";
    });
    const rescuer = startRunner("rescuer", ["--poll-ms", "50"]);
    await waitFor(
      "the task to be done",
      async () => {
        return (await statusCounts())[TaskStatus.Done] === 1;
      },
      10_000,
    );
    const takenOverInMs = Date.now() - frozenAt;

    expect(takenOverInMs).to.be.below(1500 + 4000);
    const [task] = await allTasks(dataSource);
    expect(task.runnerId).to.equal("rescuer");
    expect(await results()).to.deep.equal([
      { taskid: taskId, runnerid: "rescuer" },
    ]);
    expect((await attemptsByTask()).get(taskId)).to.equal(2);

    // Thawed, the runner finds its session gone, reports it and goes on:
    // with the rescuer stopped, it alone can do the next task.
    frozen.signal("SIGCONT");
    await frozen.waitForLog(ROUND_FAILED);
    rescuer.signal("SIGTERM");
    expect(await rescuer.exitWithin(10_000)).to.deep.equal({
      code: 0,
      signal: null,
    });
    await queue(dataSource, [chaos("work", 0)]);
    await waitFor(
      "the thawed runner to do the next task",
      async () => {
        return (await statusCounts())[TaskStatus.Done] === 2;
      },
      10_000,
    );
    frozen.signal("SIGTERM");
    const exit = await frozen.exitWithin(10_000);

    expect(exit).to.deep.equal({ code: 0, signal: null });
    const [, next] = await allTasks(dataSource);
    expect(next.runnerId).to.equal("frozen");
    const failures = frozen.logs(ROUND_FAILED);
    expect(failures).to.have.length(1);
    expect(failures[0].level).to.equal("error");
    // Its text is left unchecked: depending on what the thawed process
    // reads first it is the server's reason (SQLSTATE 25P03), the closed
    // socket, or TypeORM's "Query runner already released".
    expect(await results()).to.deep.equal([
      { taskid: taskId, runnerid: "rescuer" },
      { taskid: next.id, runnerid: "frozen" },
    ]);
  });

  it("a task that kills its runner fails after its attempts instead of being redelivered forever", async function () {
    const work = repeat(8, () => chaos("work", 10));
    await queue(dataSource, [chaos("kill-runner"), ...work]);
    const [poison] = await allTasks(dataSource);
    await dataSource.query(
      "UPDATE blog.batchjob SET maxattempts = 3 WHERE id = $1",
      [poison.id],
    );

    // Each runner that dies is replaced, as a supervisor would do.
    let supervising = true;
    const startSupervised = () => {
      const runner = startRunner(`runner-${runners.all.length + 1}`, [
        "--poll-ms",
        "50",
      ]);
      void runner.exited.then(() => {
        if (supervising) startSupervised();
      });
    };
    try {
      repeat(2, startSupervised);
      await waitFor(
        "the poison to fail and the rest to finish",
        async () => {
          const counts = await statusCounts();
          return (
            counts[TaskStatus.Failed] === 1 && counts[TaskStatus.Pending] === 0
          );
        },
        30_000,
      );
    } finally {
      supervising = false;
    }
    const exits = await stopAll();

    expect(exits.filter((exit) => exit.code !== 0)).to.deep.equal([]);
    // Each of the three claims it was allowed killed a runner.
    const stopped = new Set(exits.map((exit) => exit.id));
    const died = runners.all.filter((runner) => !stopped.has(runner.id));
    expect(
      await Promise.all(died.map((runner) => runner.exited)),
    ).to.deep.equal(repeat(3, () => ({ code: null, signal: "SIGKILL" })));
    const [failed, ...others] = await allTasks(dataSource);
    expect(failed.status).to.equal(TaskStatus.Failed);
    expect(failed.lastError).to.match(/^AttemptsExhaustedError/);
    expect((await attemptsByTask()).get(failed.id)).to.equal(4);
    const notDone = others.filter((task) => task.status !== TaskStatus.Done);
    expect(notDone).to.deep.equal([]);
    expect((await results()).map((row) => row.taskid)).to.deep.equal(
      others.map((task) => task.id),
    );
  });
});
