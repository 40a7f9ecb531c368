import { expect } from "chai";
import { Writable } from "node:stream";
import * as path from "node:path";
import { taskRegistry } from "../../Contracts/TaskRegistry";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { ChaosContract, ChaosMode } from "../../Demo/chaos/ChaosTask";
import { HUNG_TASKS_CHECK } from "../../Demo/chaos/checkChaosRun";
import { formatChaosReport } from "../../Demo/chaos/formatChaosReport";
import { prepareChaosDatabase } from "../../Demo/chaos/queueChaosTasks";
import { ChaosReport, runChaos } from "../../Demo/chaos/runChaos";
import { RunnerFleet } from "../../Demo/chaos/RunnerFleet";
import {
  allTasks,
  CHECKOUT,
  pendingCount,
  queue,
  waitFor,
} from "../support/fixtures";
import {
  createTestDatabase,
  embeddedServer,
  TestDatabase,
} from "../support/testServer";

const POISON = { throwing: 3, killing: 2, hanging: 2, invalid: 3 };
const POISON_TASKS = 10;
const KILLS = 6;

describe("chaos run: runner processes killed at random, database restarted", function () {
  this.timeout(180_000);
  let database: TestDatabase;
  let report: ChaosReport;
  let restartsDatabase: boolean;
  const progress: string[] = [];

  before(async function () {
    database = await createTestDatabase();
    const server = embeddedServer();
    restartsDatabase = server !== undefined;
    if (!restartsDatabase) {
      console.log(
        "      Configured test server: skipping the database restart, " +
          "which needs the embedded server",
      );
    }

    report = await runChaos(
      {
        tasks: 600,
        runners: 10,
        kills: KILLS,
        databaseRestarts: restartsDatabase ? 1 : 0,
        poison: POISON,
        batchSize: 10,
        // Two rounds in flight per runner: a kill takes both down.
        concurrency: 2,
        deadlineMs: 120_000,
      },
      {
        url: database.url,
        restartDatabase: server && (() => server.restart()),
        out: collect(progress),
        root: CHECKOUT,
      },
    );
  });

  afterEach(function () {
    if (this.currentTest?.state !== "failed" || report === undefined) return;
    // Once: the progress and the check table explain every failure below.
    if (progress.length > 0) {
      console.log(`${progress.join("")}\n${formatChaosReport(report)}`);
    }
    progress.length = 0;
  });

  after(async function () {
    await database?.drop();
  });

  function expectCheck(name: string): void {
    const check = report.checks.find((candidate) => candidate.name === name);
    expect(check, `check "${name}"`).to.not.equal(undefined);
    expect(check!.ok, `${name}: ${check!.detail}`).to.equal(true);
  }

  it("really kills runners, loses some to poison and replaces them all", function () {
    expect(report.kills).to.equal(KILLS);
    expect(report.poisonDeaths).to.be.within(1, POISON.killing * 3);
    expect(report.runnerRestarts).to.be.at.least(
      report.kills + report.poisonDeaths,
    );
    expect(report.databaseRestarts).to.equal(restartsDatabase ? 1 : 0);
    expectCheck("The planned chaos happened");
  });

  it("settles every task, none left pending", function () {
    expect(report.tally.queued).to.equal(600);
    expect(report.tally.pending).to.equal(0);
    expect(report.tally.done + report.tally.failed).to.equal(600);
    expectCheck("Every queued task is in the table");
    expectCheck("No task is pending");
    expectCheck("Tasks queued = done + failed");
  });

  it("writes exactly one result per done task and none for failed ones", function () {
    expect(report.tally.done).to.equal(600 - POISON_TASKS);
    expectCheck("Every done task has exactly one result");
    expectCheck("No failed task has a result");
    expectCheck("Every result belongs to a done task");
    expectCheck("No task id appears twice in chaos.result");
  });

  it("fails exactly the poison tasks, each with its reason", function () {
    expect(report.tally.failed).to.equal(POISON_TASKS);
    expect(report.tally.failedByKind).to.deep.equal({
      work: 0,
      throw: POISON.throwing,
      "kill-runner": POISON.killing,
      hang: POISON.hanging,
      invalid: POISON.invalid,
    });
    expectCheck("Every failed task has a lasterror");
    expectCheck("No innocent work task failed");
    expectCheck("Every poison task failed for its own reason");
  });

  it("keeps runners alive through the restart and stops each with exit 0", function () {
    expect(report.unexpectedExits).to.deep.equal([]);
    expect(report.stopExits).to.have.length(10);
    const codes = report.stopExits.map((exit) => exit.code);
    expect(codes).to.deep.equal(Array(10).fill(0));
    expectCheck("Every runner exited 0 on SIGTERM");
    expectCheck("No runner died unexpectedly");
  });

  it("holds every check", function () {
    const failed = report.checks.filter((check) => !check.ok);
    expect(failed).to.deep.equal([]);
  });

  it("fails every hung task with TaskTimeoutError", function () {
    expectCheck(HUNG_TASKS_CHECK);
  });
});

describe("a task that kills its runner, with the default 5 attempts", function () {
  this.timeout(120_000);

  it("does not fail the tasks claimed in the same rounds", async function () {
    const database = await createTestDatabase();
    const dataSource = await database.connect();
    const dist = path.join(CHECKOUT, "dist");
    const fleet = new RunnerFleet({
      size: 1,
      entry: path.join(dist, "SimpleBatchRunner", "main.js"),
      args: [
        ...["--tasks", path.join(dist, "Demo", "chaos", "ChaosTask.js")],
        ...["--batch-size", "10", "--poll-ms", "50"],
      ],
      env: database.env,
      restart: true,
      random: Math.random,
    });
    try {
      await prepareChaosDatabase(dataSource);
      const work = Array(9).fill(chaosRow("work"));
      await queue(dataSource, [chaosRow("kill-runner"), ...work]);

      fleet.start();
      const drained = async () => (await pendingCount(dataSource)) === 0;
      await waitFor("the queue to drain", drained, 90_000);
      await fleet.stop();

      const tasks = await allTasks(dataSource);
      expect(fleet.stats.poisonDeaths).to.equal(5);
      expect(tasks.map((task) => task.status)).to.deep.equal([
        TaskStatus.Failed,
        ...Array(9).fill(TaskStatus.Done),
      ]);
    } finally {
      await fleet.stop();
      await dataSource.destroy();
      await database.drop();
    }
  });
});

function chaosRow(mode: ChaosMode) {
  const contract = taskRegistry.serialize(ChaosContract.of(mode));
  return { className: "ChaosTask", ...contract };
}

/** collect is a stream that keeps what is written to it. */
function collect(chunks: string[]): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
}
