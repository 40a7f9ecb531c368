import { spawn } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import type { DataSource, EntityManager } from "typeorm";
import {
  buildVendorTasks,
  queueVendorJob,
  VendorTableMissingError,
} from "../../Batch.Client/queueVendorJob";
import { ContractInvalidError } from "../../Contracts/registryErrors";
import {
  COPY_THRESHOLD,
  ENQUEUE_CHUNK_SIZE,
  enqueueTasks,
} from "../../DataLayer/enqueue";
import { listenForQueued } from "../../DataLayer/queueNotifications";
import { silentLogger } from "../../Contracts/Logger";
import { migrate } from "../../DataLayer/migrate";
import { taskRegistry } from "../../SimpleBatchRunner/tasks";
import {
  allTasks,
  CHECKOUT,
  loadAdventureWorks,
  waitFor,
} from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

describe("queueVendorJob", function () {
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

  it("queues one pending task per vendor with the task, contract and JSON", async function () {
    await loadAdventureWorks(dataSource);

    const queued = await queueVendorJob(dataSource, taskRegistry);

    const tasks = await allTasks(dataSource);
    expect(queued).to.equal(104);
    expect(tasks).to.have.length(104);
    expect(tasks[0]).to.include({
      id: "1",
      className: "SummedSalesBatch",
      contractName: "SummedSalesContract",
      contractJson: '{"VendorId":1492}',
      status: 0,
      startedAt: null,
      stoppedAt: null,
    });
    const vendorIds = tasks.map(
      (task) => JSON.parse(task.contractJson).VendorId,
    );
    const expected = await dataSource.query(
      "SELECT businessentityid AS id FROM purchasing.vendor ORDER BY 1",
    );
    expect(vendorIds).to.deep.equal(
      expected.map((row: { id: number }) => row.id),
    );
  });

  it("replaces earlier tasks and results and numbers the new ones from 1", async function () {
    await loadAdventureWorks(dataSource);
    await queueVendorJob(dataSource, taskRegistry);
    await dataSource.query("UPDATE blog.batchjob SET status = 1");
    await dataSource.query(
      "INSERT INTO blog.summedsalesresult VALUES (1, 1492, 1, 1, 'old', now())",
    );

    await queueVendorJob(dataSource, taskRegistry);

    const tasks = await allTasks(dataSource);
    expect(tasks).to.have.length(104);
    expect(tasks.every((task) => task.status === 0)).to.equal(true);
    expect(tasks[0].id).to.equal("1");
    const results = await dataSource.query(
      "SELECT count(*)::int AS n FROM blog.summedsalesresult",
    );
    expect(results[0].n).to.equal(0);
  });

  it("refuses a database without purchasing.vendor and leaves the queue alone", async function () {
    await migrate(dataSource);
    await enqueueTasks(dataSource.manager, buildVendorTasks(taskRegistry, [7]));

    const error = await queueVendorJob(dataSource, taskRegistry).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).to.be.instanceOf(VendorTableMissingError);
    expect((error as Error).message).to.contain(
      "purchasing.vendor does not exist",
    );
    expect(await allTasks(dataSource)).to.have.length(1);
  });

  it("refuses to build a task for an invalid vendor id", function () {
    expect(() => buildVendorTasks(taskRegistry, [1492, 0])).to.throw(
      ContractInvalidError,
      /VendorId|vendorId/,
    );
  });

  it("queues a few tasks in one INSERT, which also announces them", async function () {
    await migrate(dataSource);
    const manager = dataSource.manager;
    const queries = recordQueries(manager);

    const count = await enqueueTasks(
      manager,
      buildVendorTasks(taskRegistry, range(1, COPY_THRESHOLD - 1)),
    );

    expect(count).to.equal(COPY_THRESHOLD - 1);
    expect(queries).to.have.length(1);
    expect(queries[0]).to.match(/INSERT INTO "blog"."batchjob"/);
    expect(queries[0]).to.contain("pg_notify");
    expect(await queuedCount(dataSource)).to.equal(COPY_THRESHOLD - 1);
  });

  it("queues many tasks by COPY in pieces, in order, and announces them once", async function () {
    await migrate(dataSource);
    const manager = dataSource.manager;
    const queries = recordQueries(manager);
    const tasks = range(1, ENQUEUE_CHUNK_SIZE * 2 + 500).map((vendorId) => ({
      className: "SummedSalesBatch",
      contractName: "SummedSalesContract",
      contractJson: JSON.stringify({ VendorId: vendorId }),
    }));
    // The runners' own listener, which also calls once when it starts
    // listening, to catch what was queued before.
    let announcements = 0;
    const listener = listenForQueued(
      database.settings,
      () => (announcements += 1),
      silentLogger,
    );
    try {
      await waitFor("the listener to listen", () => announcements === 1);

      const count = await enqueueTasks(manager, tasks);

      expect(count).to.equal(tasks.length);
      expect(queries).to.deep.equal(["SELECT pg_notify($1, '')"]);
      await waitFor("the announcement", () => announcements === 2);
    } finally {
      await listener.close();
    }
    const rows: { contractjson: string }[] = await dataSource.query(
      "SELECT contractjson FROM blog.batchjob ORDER BY id",
    );
    expect(rows.map((row) => row.contractjson)).to.deep.equal(
      tasks.map((task) => task.contractJson),
    );
  });

  it("keeps by COPY every character a name or a contract may hold", async function () {
    await migrate(dataSource);
    const awkward = [
      'a "quoted" \\ backslash',
      "tab\there, newline\nthere, return\rthere",
      "\\.",
      "\\N",
      "ünïcødé ✓ 🚀",
      "",
    ];
    const tasks = range(1, COPY_THRESHOLD).map((index) => ({
      className: awkward[index % awkward.length] + "Task",
      contractName: "Contract" + awkward[(index + 1) % awkward.length],
      contractJson: JSON.stringify({ note: awkward[index % awkward.length] }),
    }));

    await enqueueTasks(dataSource.manager, tasks);

    const rows: {
      classname: string;
      contractname: string;
      contractjson: string;
    }[] = await dataSource.query(
      "SELECT classname, contractname, contractjson FROM blog.batchjob ORDER BY id",
    );
    expect(
      rows.map((row) => ({
        className: row.classname,
        contractName: row.contractname,
        contractJson: row.contractjson,
      })),
    ).to.deep.equal(tasks);
  });

  it("queues nothing by COPY when its transaction rolls back", async function () {
    await migrate(dataSource);
    const tasks = buildVendorTasks(taskRegistry, range(1, COPY_THRESHOLD * 2));

    const failure = await dataSource
      .transaction(async (manager) => {
        await enqueueTasks(manager, tasks);
        expect(await queuedCount(manager.connection, manager)).to.equal(
          tasks.length,
        );
        throw new Error("give up");
      })
      .catch((error: Error) => error);

    expect(failure).to.be.instanceOf(Error).with.property("message", "give up");
    expect(await queuedCount(dataSource)).to.equal(0);
  });
});

describe("client command", function () {
  this.timeout(60_000);
  let database: TestDatabase;

  beforeEach(async function () {
    database = await createTestDatabase();
  });

  afterEach(async function () {
    await database?.drop();
  });

  it("queues, follows the run with --wait and prints the report", async function () {
    const client = start(
      [
        path.join(CHECKOUT, "dist/Batch.Client/main.js"),
        "--with-sample",
        "--wait",
      ],
      database.env,
    );
    // The runner starts once the client has migrated and queued.
    await waitFor(
      "the client to queue",
      () => client.stdout().includes("Queued"),
      30_000,
    );
    const runner = start(
      [
        path.join(CHECKOUT, "dist/SimpleBatchRunner/main.js"),
        "--until-empty",
        "--batch-size",
        "10",
        "--id",
        "only-runner",
      ],
      { ...database.env, LOG_LEVEL: "warn" },
    );

    const [clientCode, runnerCode] = await Promise.all([
      client.exit,
      runner.exit,
    ]);

    const stdout = client.stdout();
    expect(clientCode, client.stderr()).to.equal(0);
    expect(runnerCode, runner.stderr()).to.equal(0);
    expect(stdout).to.contain("Queued 104 tasks.");
    expect(stdout).to.match(/\[#{30}\] 104\/104 \(100%\)/);
    expect(stdout).to.contain(
      "Tasks: 104 queued, 104 done, 0 failed, 0 pending",
    );
    expect(stdout).to.contain("only-runner: 104");
    expect(stdout).to.contain("Retries: 0 attempts beyond each task's first");
    expect(
      stdout.match(/^VendorId: \d+, Total: [\d.]+, Items \d+\./gm),
    ).to.have.length(104);
  });
});

/** recordQueries makes `manager` note the text of each query it runs. */
function recordQueries(manager: EntityManager): string[] {
  const queries: string[] = [];
  const original = manager.query.bind(manager);
  manager.query = ((sql: string, parameters?: unknown[]) => {
    queries.push(sql);
    return original(sql, parameters);
  }) as typeof manager.query;
  return queries;
}

async function queuedCount(
  dataSource: DataSource,
  manager: EntityManager = dataSource.manager,
): Promise<number> {
  const [{ queued }] = await manager.query(
    "SELECT count(*)::int AS queued FROM blog.batchjob",
  );
  return queued;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

function start(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, args, { env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return {
    exit: new Promise<number | null>((resolve) => child.once("exit", resolve)),
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
