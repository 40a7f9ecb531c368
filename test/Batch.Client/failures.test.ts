import { spawn } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import type { DataSource } from "typeorm";
import { enqueueTasks, NewTask } from "../../DataLayer/enqueue";
import { migrate } from "../../DataLayer/migrate";
import { readFailures } from "../../DataLayer/readFailures";
import {
  requeueFailedTasks,
  RequeueRefusedError,
} from "../../DataLayer/requeue";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { allTasks, CHECKOUT, loadAdventureWorks } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

// Compiled entry points: build with `npx tsc -p .` before running this file.
const FAILURES = "dist/Batch.Client/failures.js";
const RUNNER = "dist/SimpleBatchRunner/main.js";

const ERROR_TEXT =
  "Error: Vendor 7 has no orders\n    at SummedSalesBatch.execute (x.js:1:1)";

function vendorTask(vendorId: number): NewTask {
  return {
    className: "SummedSalesBatch",
    contractName: "SummedSalesContract",
    contractJson: JSON.stringify({ VendorId: vendorId }),
  };
}

/** fail marks a task failed by a runner, after `attempts` claims. */
async function fail(
  dataSource: DataSource,
  id: string,
  attempts: number,
  error = ERROR_TEXT,
): Promise<void> {
  await dataSource.query(
    "UPDATE blog.batchjob SET status = $2, lasterror = $3, runnerid = $4, " +
      "startedat = '2026-03-01T10:00:00Z', " +
      "stoppedat = '2026-03-01T10:00:02Z', " +
      "notbefore = '2026-03-01T10:00:05Z' WHERE id = $1",
    [id, TaskStatus.Failed, error, "runner-01"],
  );
  if (attempts === 0) return;
  await dataSource.query(
    "INSERT INTO blog.batchjobattempt " +
      "(taskid, attempts, runnerid, claimedat) " +
      "VALUES ($1, $2, 'runner-01', now())",
    [id, attempts],
  );
}

async function markDone(dataSource: DataSource, id: string): Promise<void> {
  await dataSource.query("UPDATE blog.batchjob SET status = $2 WHERE id = $1", [
    id,
    TaskStatus.Done,
  ]);
}

async function attemptRows(dataSource: DataSource): Promise<string[]> {
  const rows: { taskid: string }[] = await dataSource.query(
    "SELECT taskid FROM blog.batchjobattempt ORDER BY taskid",
  );
  return rows.map((row) => row.taskid);
}

function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("readFailures and requeueFailedTasks", function () {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await enqueueTasks(dataSource.manager, [1, 2, 3, 4].map(vendorTask));
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("lists only failed tasks with their attempts and reasons", async function () {
    await fail(dataSource, "1", 5);
    await markDone(dataSource, "2");
    await fail(dataSource, "3", 0);

    const failures = await readFailures(dataSource);

    expect(failures.total).to.equal(2);
    expect(failures.tasks.map((task) => task.id)).to.deep.equal(["1", "3"]);
    expect(failures.tasks[0]).to.deep.include({
      className: "SummedSalesBatch",
      contractName: "SummedSalesContract",
      contractJson: '{"VendorId":1}',
      attempts: 5,
      maxAttempts: 5,
      runnerId: "runner-01",
      lastError: ERROR_TEXT,
    });
    expect(failures.tasks[0].stoppedAt?.toISOString()).to.equal(
      "2026-03-01T10:00:02.000Z",
    );
    expect(failures.tasks[1].attempts).to.equal(0);
  });

  it("returns at most limit tasks and still counts every failed one", async function () {
    for (const id of ["1", "2", "3"]) await fail(dataSource, id, 1);

    const failures = await readFailures(dataSource, { limit: 2 });

    expect(failures.tasks.map((task) => task.id)).to.deep.equal(["1", "2"]);
    expect(failures.total).to.equal(3);
  });

  it("reads only the named tasks among the failed ones", async function () {
    await fail(dataSource, "1", 1);
    await markDone(dataSource, "2");
    await fail(dataSource, "3", 1);

    const failures = await readFailures(dataSource, { ids: ["3", "2"] });

    expect(failures.tasks.map((task) => task.id)).to.deep.equal(["3"]);
  });

  it("returns the named tasks to pending with their full attempts", async function () {
    await fail(dataSource, "1", 5);
    await fail(dataSource, "2", 5);
    await fail(dataSource, "3", 2);

    const requeued = await requeueFailedTasks(dataSource.manager, {
      ids: ["3", "1"],
    });

    const tasks = await allTasks(dataSource);
    expect(requeued).to.deep.equal(["1", "3"]);
    expect(tasks[0]).to.include({
      status: TaskStatus.Pending,
      notBefore: null,
      startedAt: null,
      stoppedAt: null,
      runnerId: null,
      lastError: ERROR_TEXT,
    });
    expect(tasks[2].status).to.equal(TaskStatus.Pending);
    expect(tasks[1]).to.include({
      status: TaskStatus.Failed,
      runnerId: "runner-01",
    });
    expect(tasks[3].status).to.equal(TaskStatus.Pending);
    expect(await attemptRows(dataSource)).to.deep.equal(["2"]);
  });

  it("requeues every failed task and nothing else when all are selected", async function () {
    await fail(dataSource, "1", 5);
    await markDone(dataSource, "2");
    await fail(dataSource, "4", 3);

    const requeued = await requeueFailedTasks(dataSource.manager, {
      all: true,
    });

    const statuses = (await allTasks(dataSource)).map((task) => task.status);
    expect(requeued).to.deep.equal(["1", "4"]);
    expect(statuses).to.deep.equal([
      TaskStatus.Pending,
      TaskStatus.Done,
      TaskStatus.Pending,
      TaskStatus.Pending,
    ]);
    expect(await attemptRows(dataSource)).to.deep.equal([]);
  });

  it("returns no ids when all are selected and none failed", async function () {
    const requeued = await requeueFailedTasks(dataSource.manager, {
      all: true,
    });

    expect(requeued).to.deep.equal([]);
  });

  it("refuses done and missing tasks and changes nothing", async function () {
    await fail(dataSource, "1", 5);
    await markDone(dataSource, "2");
    const before = await allTasks(dataSource);

    const error = await rejection(
      requeueFailedTasks(dataSource.manager, { ids: ["1", "2", "9"] }),
    );

    expect(error).to.be.instanceOf(RequeueRefusedError);
    const refused = error as RequeueRefusedError;
    expect(refused.name).to.equal("RequeueRefusedError");
    expect(refused.message).to.equal(
      "Cannot requeue tasks 2, 9: 2 is done, 9 does not exist",
    );
    expect(refused.ids).to.deep.equal(["2", "9"]);
    expect(refused.reasons.get("9")).to.equal("does not exist");
    expect(await allTasks(dataSource)).to.deep.equal(before);
    expect(await attemptRows(dataSource)).to.deep.equal(["1"]);
  });

  it("names pending and waiting tasks in the refusal", async function () {
    await dataSource.query(
      "UPDATE blog.batchjob SET lasterror = 'Error: later', " +
        "notbefore = now() + interval '1 hour' WHERE id = 1",
    );

    const error = await rejection(
      requeueFailedTasks(dataSource.manager, { ids: ["1", "2"] }),
    );

    expect((error as Error).message).to.equal(
      "Cannot requeue tasks 1, 2: 1 is waiting to retry, 2 is pending",
    );
  });

  it("refuses malformed ids with a RangeError", async function () {
    const malformed = ["0", "-1", "abc", "1.5", " 1", "99999999999999999999"];

    for (const id of malformed) {
      const requeue = requeueFailedTasks(dataSource.manager, { ids: [id] });
      const read = readFailures(dataSource, { ids: [id] });
      expect(await rejection(requeue), id).to.be.instanceOf(RangeError);
      expect(await rejection(read), id).to.be.instanceOf(RangeError);
    }
    const empty = requeueFailedTasks(dataSource.manager, { ids: [] });
    expect(await rejection(empty)).to.be.instanceOf(RangeError);
  });

  it("refuses a limit outside 1 to 10,000 with a RangeError", async function () {
    for (const limit of [0, 1.5, 10_001]) {
      const read = readFailures(dataSource, { limit });
      expect(await rejection(read), String(limit)).to.be.instanceOf(RangeError);
    }
  });
});

describe("failures command", function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await enqueueTasks(dataSource.manager, [1, 2, 3].map(vendorTask));
    await fail(dataSource, "1", 5);
    await markDone(dataSource, "2");
    await fail(dataSource, "3", 2, "TypeError: boom");
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("lists failed tasks with attempts, time, runner and first error line", async function () {
    const result = await failures([], database.env);

    expect(result.code, result.stderr).to.equal(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]).to.match(
      /^ID\s+CLASS\s+ATTEMPTS\s+STOPPED\s+RUNNER\s+ERROR$/,
    );
    expect(lines[1]).to.match(
      /^1\s+SummedSalesBatch\s+5\/5\s+2026-03-01T10:00:02Z\s+runner-01\s+Error: Vendor 7 has no orders$/,
    );
    expect(lines[2]).to.match(
      /^3\s+SummedSalesBatch\s+2\/5\s.*TypeError: boom$/,
    );
    expect(lines.at(-1)).to.equal("2 failed tasks.");
    expect(result.stdout).not.to.contain("at SummedSalesBatch.execute");
  });

  it("says how many it left out when the limit cuts the list", async function () {
    const result = await failures(["--limit", "1"], database.env);

    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain("Showing 1 of 2 failed tasks");
  });

  it("prints the list as JSON with --json", async function () {
    const result = await failures(["--json"], database.env);

    expect(result.code, result.stderr).to.equal(0);
    const parsed = JSON.parse(result.stdout);
    expect(parsed.total).to.equal(2);
    expect(parsed.tasks[0]).to.include({
      id: "1",
      attempts: 5,
      lastError: ERROR_TEXT,
      stoppedAt: "2026-03-01T10:00:02.000Z",
    });
  });

  it("shows one failed task in full with --show", async function () {
    const result = await failures(["--show", "1"], database.env);

    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.contain("Task 1 failed");
    expect(result.stdout).to.contain("attempts:  5 of 5");
    expect(result.stdout).to.contain('{"VendorId":1}');
    expect(result.stdout).to.contain(ERROR_TEXT);
  });

  it("exits 1 with one line when --show names a task that did not fail", async function () {
    const result = await failures(["--show", "2"], database.env);

    expect(result.code).to.equal(1);
    expect(result.stderr).to.equal(
      "Cannot show task 2: no failed task has this id\n",
    );
  });

  it("requeues the named tasks and prints their ids", async function () {
    const result = await failures(
      ["--requeue", "1", "--requeue", "3"],
      database.env,
    );

    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal("Requeued 2 tasks: 1, 3.\n");
    const statuses = (await allTasks(dataSource)).map((task) => task.status);
    expect(statuses).to.deep.equal([
      TaskStatus.Pending,
      TaskStatus.Done,
      TaskStatus.Pending,
    ]);
  });

  it("requeues every failed task with --requeue-all", async function () {
    const result = await failures(["--requeue-all"], database.env);

    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.equal("Requeued 2 tasks: 1, 3.\n");
    expect(await attemptRows(dataSource)).to.deep.equal([]);
  });

  it("exits 1 and requeues nothing when a named task is not failed", async function () {
    const result = await failures(
      ["--requeue", "1", "--requeue", "2", "--requeue", "7"],
      database.env,
    );

    expect(result.code).to.equal(1);
    expect(result.stderr).to.equal(
      "Cannot requeue tasks 2, 7: 2 is done, 7 does not exist\n",
    );
    expect((await allTasks(dataSource))[0].status).to.equal(TaskStatus.Failed);
  });

  it("exits 2 with the usage text for options that exclude each other", async function () {
    const result = await failures(
      ["--requeue", "1", "--requeue-all"],
      database.env,
    );

    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain(
      "Options --requeue and --requeue-all exclude each other",
    );
    expect(result.stderr).to.contain("Usage: npm run failures");
    expect((await allTasks(dataSource))[0].status).to.equal(TaskStatus.Failed);
  });

  it("exits 1 with one line for a malformed id", async function () {
    const result = await failures(["--requeue", "x1"], database.env);

    expect(result.code).to.equal(1);
    expect(result.stderr).to.equal(
      'Cannot requeue tasks: a task id is a positive integer, got "x1"\n',
    );
  });
});

describe("requeue end to end", function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("runs a failed task to done once it is requeued", async function () {
    await loadAdventureWorks(dataSource);
    await enqueueTasks(dataSource.manager, [vendorTask(1492)]);
    await fail(dataSource, "1", 5);

    const requeue = await failures(["--requeue", "1"], database.env);
    const runner = await run(
      [RUNNER, "--until-empty", "--id", "retry-runner"],
      { ...database.env, LOG_LEVEL: "warn" },
    );

    expect(requeue.code, requeue.stderr).to.equal(0);
    expect(runner.code, runner.stderr).to.equal(0);
    expect(runner.stdout).to.match(
      /^VendorId: 1492, Total: [\d.]+, Items \d+\./m,
    );
    const [task] = await allTasks(dataSource);
    expect(task).to.include({
      status: TaskStatus.Done,
      runnerId: "retry-runner",
      lastError: null,
    });
    const results: { vendorid: number }[] = await dataSource.query(
      "SELECT vendorid FROM blog.summedsalesresult WHERE taskid = 1",
    );
    expect(results).to.deep.equal([{ vendorid: 1492 }]);
  });
});

interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function failures(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  return run([FAILURES, ...args], env);
}

/** run starts a compiled entry point of the checkout and waits for it. */
function run(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  const [script, ...rest] = args;
  const entry = path.join(CHECKOUT, script);
  const child = spawn(process.execPath, [entry, ...rest], { env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
