import { expect } from "chai";
import type { DataSource } from "typeorm";
import { queueVendorJob } from "../../Batch.Client/queueVendorJob";
import { verifyVendorJob } from "../../Batch.Client/verifyVendorJob";
import { startRunnerProcesses } from "../../Demo/runnerProcesses";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import { allTasks, CHECKOUT, loadAdventureWorks } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

describe("twenty runner processes on the real AdventureWorks rows", function () {
  this.timeout(120_000);
  let database: TestDatabase;
  let dataSource: DataSource;

  before(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await loadAdventureWorks(dataSource);
  });

  after(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("does every task exactly once, prints each vendor once and spreads the work", async function () {
    const queued = await queueVendorJob(dataSource, taskRegistry);
    const lines: { runnerId: string; line: string }[] = [];

    const { exited } = startRunnerProcesses({
      count: 20,
      args: ["--until-empty", "--hold-ms", "50"],
      env: { ...database.env, LOG_LEVEL: "warn" },
      root: CHECKOUT,
      onLine: (runnerId, line) => lines.push({ runnerId, line }),
    });
    const exits = await exited;

    expect(queued).to.equal(104);
    expect(exits.filter((exit) => exit.code !== 0)).to.deep.equal([]);
    const tasks = await allTasks(dataSource);
    expect(tasks.filter((task) => task.status !== 1)).to.deep.equal([]);
    const check = await verifyVendorJob(dataSource);
    expect(check.problems).to.deep.equal([]);
    expect(check.matching).to.equal(104);

    const vendorLines = lines
      .map((entry) => entry.line)
      .filter((line) => line.startsWith("VendorId: "));
    expect(vendorLines).to.have.length(104);
    expect(new Set(vendorLines).size).to.equal(104);
    expect(vendorLines).to.include(
      "VendorId: 1492, Total: 22678.7715, Items 176.",
    );

    // Each line is printed by the runner recorded as having done the task.
    const doneBy = new Map(
      tasks.map((task) => [
        JSON.parse(task.contractJson).VendorId,
        task.runnerId,
      ]),
    );
    expect(
      lines.filter(({ line }) => !line.startsWith("VendorId: ")),
    ).to.deep.equal([]);
    for (const { runnerId, line } of lines) {
      const vendorId = Number(/^VendorId: (\d+),/.exec(line)?.[1]);
      expect(doneBy.get(vendorId), line).to.equal(runnerId);
    }
    const runnersWithWork = new Set(tasks.map((task) => task.runnerId));
    expect(runnersWithWork.size).to.be.at.least(5);
  });
});
