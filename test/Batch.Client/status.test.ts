import { spawn } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import { Client } from "pg";
import type { DataSource } from "typeorm";
import { enqueueTasks, NewTask } from "../../DataLayer/enqueue";
import { migrate } from "../../DataLayer/migrate";
import { readStatus } from "../../DataLayer/readStatus";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { formatStatus } from "../../Batch.Client/formatStatus";
import { CHECKOUT, waitFor } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

// Compiled entry point: build with `npx tsc -p .` before running this file.
const STATUS = path.join(CHECKOUT, "dist", "Batch.Client", "status.js");

function vendorTask(vendorId: number): NewTask {
  return {
    className: "SummedSalesBatch",
    contractName: "SummedSalesContract",
    contractJson: JSON.stringify({ VendorId: vendorId }),
  };
}

function runStatus(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STATUS, ...args], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("readStatus", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let sessions: Client[];

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await enqueueTasks(dataSource.manager, [1, 2, 3, 4, 5, 6].map(vendorTask));
    sessions = [];
  });

  afterEach(async function () {
    await Promise.all(sessions.map((session) => session.end()));
    await dataSource?.destroy();
    await database?.drop();
  });

  /** runnerSession connects as a runner's session would appear. */
  async function runnerSession(runnerId: string): Promise<Client> {
    const session = new Client({
      connectionString: database.url,
      application_name: `batch-runner:${runnerId}`,
    });
    await session.connect();
    sessions.push(session);
    return session;
  }

  /** hold opens a round on `session` that locks a task, as a claim does. */
  async function hold(session: Client, taskId: string): Promise<void> {
    await session.query("BEGIN ISOLATION LEVEL REPEATABLE READ");
    await session.query(
      "SELECT id FROM blog.batchjob WHERE id = $1 FOR UPDATE",
      [taskId],
    );
  }

  /** countAttempt records a claim the way a runner's second connection does. */
  async function countAttempt(taskId: string, runnerId: string): Promise<void> {
    await dataSource.query(
      `INSERT INTO blog.batchjobattempt (taskid, attempts, runnerid, claimedat)
       VALUES ($1, 1, $2, now())`,
      [taskId, runnerId],
    );
  }

  async function beat(
    runnerId: string,
    secondsAgo: number,
    stopped = false,
  ): Promise<void> {
    await dataSource.query(
      `INSERT INTO blog.runnerheartbeat (runnerid, host, pid, startedat,
         lastseenat, stoppedat, tasksdone, tasksfailed, tasksretried,
         tasksinhand)
       VALUES ($1, 'box', 4242, now() - interval '1 hour',
         now() - $2 * interval '1 second',
         CASE WHEN $3 THEN now() END, 7, 1, 0, 9)`,
      [runnerId, secondsAgo, stopped],
    );
  }

  async function setTask(id: string, assignments: string): Promise<void> {
    await dataSource.query(
      `UPDATE blog.batchjob SET ${assignments} WHERE id = $1`,
      [id],
    );
  }

  it("counts tasks by state and keeps those waiting to retry apart", async function () {
    await setTask("1", `status = ${TaskStatus.Done}`);
    await setTask("2", `status = ${TaskStatus.Failed}`);
    await setTask("3", "notbefore = now() + interval '1 minute'");
    await setTask("4", "notbefore = now() - interval '1 minute'");

    const { counts } = await readStatus(dataSource);

    expect(counts).to.deep.equal({
      pending: 3,
      waitingToRetry: 1,
      inProgress: 0,
      done: 1,
      failed: 1,
      total: 6,
    });
  });

  it("counts a task in progress while a runner session holds its row", async function () {
    const session = await runnerSession("fake");
    await hold(session, "2");
    await countAttempt("2", "fake");
    await beat("fake", 0);

    const status = await readStatus(dataSource);

    expect(status.counts).to.deep.include({ inProgress: 1, pending: 5 });
    expect(status.runners.map((runner) => runner.runnerId)).to.deep.equal([
      "fake",
    ]);
    expect(status.runners[0]).to.deep.include({
      host: "box",
      pid: 4242,
      tasksDone: 7,
      tasksFailed: 1,
      tasksInHand: 1,
    });
  });

  it("stops counting a task in progress once the round ends", async function () {
    const session = await runnerSession("fake");
    await hold(session, "2");
    await countAttempt("2", "fake");
    await session.query("ROLLBACK");

    const { counts } = await readStatus(dataSource);

    expect(counts).to.deep.include({ inProgress: 0, pending: 6 });
  });

  it("does not count a claim whose runner has no session", async function () {
    await countAttempt("3", "crashed");
    await beat("crashed", 0);

    const status = await readStatus(dataSource);

    expect(status.counts).to.deep.include({ inProgress: 0, pending: 6 });
    expect(status.runners).to.deep.equal([]);
  });

  it("does not count a claim made before the session's open transaction", async function () {
    const session = await runnerSession("fake");
    await countAttempt("3", "fake");
    await hold(session, "4");

    const { counts } = await readStatus(dataSource);

    expect(counts.inProgress).to.equal(0);
  });

  it("lists only runners with a fresh heartbeat, not stopped, with a session", async function () {
    for (const id of ["live", "stale", "stopped"]) await runnerSession(id);
    await beat("live", 1);
    await beat("stale", 60);
    await beat("stopped", 1, true);
    await beat("gone", 1);

    const status = await readStatus(dataSource);

    expect(status.runners.map((runner) => runner.runnerId)).to.deep.equal([
      "live",
    ]);
    expect(status.runners[0].tasksInHand).to.equal(0);
  });

  it("reads the last minute's throughput and the latest five failures", async function () {
    await enqueueTasks(dataSource.manager, [7, 8, 9].map(vendorTask));
    const done = `status = ${TaskStatus.Done}, stoppedat = now() - interval`;
    for (const id of ["1", "2", "3"]) await setTask(id, `${done} '10 s'`);
    await setTask("4", `${done} '2 min'`);
    const failed = { "5": 9, "6": 8, "7": 7, "8": 6, "9": 0.5 };
    for (const [id, minutesAgo] of Object.entries(failed)) {
      await dataSource.query(
        "UPDATE blog.batchjob SET status = $2, lasterror = $3, " +
          "stoppedat = now() - $4 * interval '1 minute' WHERE id = $1",
        [id, TaskStatus.Failed, `Error: task ${id} broke\n  at x`, minutesAgo],
      );
    }

    const status = await readStatus(dataSource);

    expect(status.throughputLastMinute).to.equal(4 / 60);
    expect(status.recentFailures.map((failure) => failure.id)).to.deep.equal([
      "9",
      "8",
      "7",
      "6",
      "5",
    ]);
    expect(status.recentFailures[0]).to.deep.include({
      className: "SummedSalesBatch",
      error: "Error: task 9 broke",
    });
  });

  it("measures the oldest due task's wait from the clock it is given", async function () {
    const now = new Date("2026-03-01T10:00:00Z");
    await dataSource.query(
      "UPDATE blog.batchjob SET enqueuedat = '2026-03-01T09:58:00Z'",
    );
    await setTask("1", "enqueuedat = '2026-03-01T09:59:00Z'");
    await setTask("2", "notbefore = '2026-03-01T09:59:50Z'");
    await setTask("3", "notbefore = '2026-03-01T10:05:00Z'");

    const status = await readStatus(dataSource, now);

    // Tasks 4 to 6, queued at 09:58 and due since, have waited longest.
    expect(status.oldestPendingAgeMs).to.equal(120_000);
    expect(status.generatedAt.toISOString()).to.equal(now.toISOString());
    expect(status.counts).to.deep.include({ pending: 5, waitingToRetry: 1 });
  });

  it("formats the status as text a person can read", async function () {
    await dataSource.query(
      "UPDATE blog.batchjob SET status = $1, lasterror = $2 WHERE id = 1",
      [TaskStatus.Failed, "Error: \x1b[31mred\x1b[0m\nstack"],
    );

    const text = formatStatus(await readStatus(dataSource));

    expect(text).to.match(/pending \(due\)\s+5/);
    expect(text).to.match(/failed\s+1/);
    expect(text).to.include("No live runners.");
    expect(text).to.include("#1  SummedSalesBatch");
    expect(text).to.include("Error: ?[31mred?[0m");
    expect(text).not.to.include("\x1b");
  });

  it("prints the status as JSON from the command line", async function () {
    await setTask("1", `status = ${TaskStatus.Done}`);

    const result = await runStatus(["--json"], database.env);

    expect(result.code, result.stderr).to.equal(0);
    const status = JSON.parse(result.stdout);
    expect(status.counts).to.deep.include({ done: 1, pending: 5, total: 6 });
    expect(status.runners).to.deep.equal([]);
    const generatedAt = new Date(status.generatedAt).getTime();
    expect(generatedAt).to.be.closeTo(Date.now(), 60_000);
  });

  it("redraws with --watch until interrupted, then exits 0", async function () {
    const child = spawn(process.execPath, [STATUS, "--watch"], {
      env: database.env,
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise((resolve) => child.on("close", resolve));

    await waitFor(
      "two redraws",
      () => stdout.split("Tasks at ").length > 2,
      15_000,
    );
    child.kill("SIGINT");

    expect(await exited).to.equal(0);
  });
});
