import { expect } from "chai";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { DataSource, QueryRunner } from "typeorm";
import {
  listMigrations,
  migrate,
  revertLastMigration,
} from "../../DataLayer/migrate";
import { claimPendingTasks, msUntilNextRetry } from "../../DataLayer/claim";
import { outcomeUpdate } from "../../DataLayer/commitOutcomes";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { MIGRATIONS } from "../../DataLayer/migrations";
import { MIGRATIONS_TABLE, TASK_SCHEMA } from "../../ormconfig";
import { CHECKOUT } from "../support/fixtures";
import { recordSentQueries } from "../support/sentQueries";
import { createTestDatabase, TestDatabase } from "../support/testServer";

const MIGRATION_COMMAND = path.resolve(
  __dirname,
  "..",
  "..",
  "dist",
  "DataLayer",
  "migrationCommand.js",
);

interface ColumnRow {
  readonly column_name: string;
  readonly data_type: string;
  readonly is_nullable: string;
}

/** The tables of a schema, sorted. */
async function tablesIn(
  dataSource: DataSource,
  schema: string,
): Promise<string[]> {
  const rows: { table_name: string }[] = await dataSource.query(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = $1 ORDER BY table_name`,
    [schema],
  );
  return rows.map((row) => row.table_name);
}

/** The names in the migration history, oldest first. */
async function historyOf(dataSource: DataSource): Promise<string[]> {
  const rows: { name: string }[] = await dataSource.query(
    `SELECT name FROM "${TASK_SCHEMA}"."${MIGRATIONS_TABLE}" ORDER BY id`,
  );
  return rows.map((row) => row.name);
}

/** revertAll undoes every applied migration, one at a time. */
const STATUS_INDEX_WITHOUT_PENDING = "StatusIndexWithoutPending1796352000000";

/** revertThrough reverts migrations, newest first, up to `name` included. */
async function revertThrough(
  dataSource: DataSource,
  name: string,
): Promise<void> {
  const applied = async () =>
    (await listMigrations(dataSource)).find((m) => m.name === name)?.applied;
  while (await applied()) await revertLastMigration(dataSource);
}

async function revertAll(dataSource: DataSource): Promise<void> {
  const count = (await listMigrations(dataSource)).filter(
    (m) => m.applied,
  ).length;
  for (let step = 0; step < count; step++) {
    await revertLastMigration(dataSource);
  }
}

function runMigrationCommand(
  action: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MIGRATION_COMMAND, action], { env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("migrations", () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let everyMigration: string[];

  beforeEach(async () => {
    db = await createTestDatabase();
    dataSource = await db.connect();
    everyMigration = (await listMigrations(dataSource)).map((m) => m.name);
  });

  afterEach(async () => {
    if (dataSource.isInitialized) await dataSource.destroy();
    await db.drop();
  });

  it("knows at least the task table and result table migrations", () => {
    const names = everyMigration;

    const kinds = names.map((name) => name.replace(/\d+$/, ""));

    expect(kinds).to.include.members([
      "CreateBatchJob",
      "CreateSummedSalesResult",
      "AddTaskRetries",
      "CreateRunnerHeartbeat",
      "AddPendingIndex",
      "AddEnqueuedAt",
    ]);
  });

  it("creates blog.batchjob with the original's columns and the retry ones", async () => {
    await migrate(dataSource);

    const columns: ColumnRow[] = await dataSource.query(
      `SELECT column_name, data_type, is_nullable
         FROM information_schema.columns
        WHERE table_schema = 'blog' AND table_name = 'batchjob'
        ORDER BY ordinal_position`,
    );

    expect(columns).to.deep.equal([
      { column_name: "id", data_type: "bigint", is_nullable: "NO" },
      { column_name: "classname", data_type: "text", is_nullable: "NO" },
      { column_name: "contractname", data_type: "text", is_nullable: "NO" },
      { column_name: "contractjson", data_type: "text", is_nullable: "NO" },
      { column_name: "status", data_type: "integer", is_nullable: "NO" },
      {
        column_name: "startedat",
        data_type: "timestamp with time zone",
        is_nullable: "YES",
      },
      {
        column_name: "stoppedat",
        data_type: "timestamp with time zone",
        is_nullable: "YES",
      },
      { column_name: "runnerid", data_type: "text", is_nullable: "YES" },
      { column_name: "lasterror", data_type: "text", is_nullable: "YES" },
      { column_name: "maxattempts", data_type: "integer", is_nullable: "NO" },
      {
        column_name: "notbefore",
        data_type: "timestamp with time zone",
        is_nullable: "YES",
      },
      { column_name: "timeoutms", data_type: "integer", is_nullable: "YES" },
      {
        column_name: "enqueuedat",
        data_type: "timestamp with time zone",
        is_nullable: "NO",
      },
    ]);
  });

  it("makes batchjob.id an identity and status default to 0", async () => {
    await migrate(dataSource);

    const rows: {
      column_name: string;
      is_identity: string;
      column_default: string | null;
    }[] = await dataSource.query(
      `SELECT column_name, is_identity, column_default
         FROM information_schema.columns
        WHERE table_schema = 'blog' AND table_name = 'batchjob'
          AND column_name IN ('id', 'status')
        ORDER BY column_name`,
    );

    expect(rows).to.deep.equal([
      { column_name: "id", is_identity: "YES", column_default: null },
      { column_name: "status", is_identity: "NO", column_default: "0" },
    ]);
  });

  it("indexes the status of tasks no longer pending as ix_batchjob_status", async () => {
    await migrate(dataSource);

    const rows: { indexdef: string }[] = await dataSource.query(
      `SELECT indexdef FROM pg_indexes
        WHERE schemaname = 'blog' AND tablename = 'batchjob'
          AND indexname = 'ix_batchjob_status'`,
    );

    expect(rows).to.have.lengthOf(1);
    expect(rows[0].indexdef).to.match(/\(status\) WHERE \(status <> 0\)$/);
  });

  it("indexes the fresh tasks and the waiting ones apart for the claim", async () => {
    await migrate(dataSource);

    const rows: { indexname: string; indexdef: string }[] =
      await dataSource.query(
        `SELECT indexname, indexdef FROM pg_indexes
          WHERE schemaname = 'blog'
            AND indexname IN ('ix_batchjob_fresh', 'ix_batchjob_waiting')
          ORDER BY indexname`,
      );

    expect(rows.map((row) => row.indexname)).to.deep.equal([
      "ix_batchjob_fresh",
      "ix_batchjob_waiting",
    ]);
    expect(rows[0].indexdef).to.match(
      /\(id\) WHERE \(\(status = 0\) AND \(notbefore IS NULL\)\)$/,
    );
    expect(rows[1].indexdef).to.match(
      /\(notbefore\) WHERE \(\(status = 0\) AND \(notbefore IS NOT NULL\)\)$/,
    );
  });

  it("claims through the fresh and waiting indexes while finished rows pile up", async () => {
    await migrate(dataSource);
    await dataSource.query(
      `INSERT INTO blog.batchjob (classname, contractname, contractjson, status)
       SELECT 'T', 'C', '{}', CASE WHEN n <= 20000 THEN 1 ELSE 0 END
         FROM generate_series(1, 20100) AS n`,
    );
    await dataSource.query("ANALYZE blog.batchjob");

    for (const passOver of ["touched", "held"] as const) {
      const plan = await claimPlan(dataSource, 1000, { from: "10", passOver });
      expect(plan, passOver).to.include("Index Scan using ix_batchjob_fresh");
      expect(plan, passOver).to.include("Index Scan using ix_batchjob_waiting");
    }
  });

  it("walks the claim's indexes in order when the planner expects few rows to pass", async () => {
    await migrate(dataSource);
    await dataSource.query(
      `INSERT INTO blog.batchjob (classname, contractname, contractjson, status)
       SELECT 'T', 'C', '{}', 0 FROM generate_series(1, 100000)`,
    );
    await dataSource.query("ANALYZE blog.batchjob");
    // A batch of 1,000 out of 70,000 pending above `from`.
    const largeBatch = await claimPlan(dataSource, 1000, {
      from: "30001",
      passOver: "touched",
    });
    await dataSource.query(
      "UPDATE blog.batchjob SET status = 1 WHERE id <= 60000",
    );
    await dataSource.query("ANALYZE blog.batchjob");
    // A batch of 100 out of 40,000, late in a drain.
    const lateInDrain = await claimPlan(dataSource, 100, {
      from: "50001",
      passOver: "touched",
    });

    for (const [name, plan] of Object.entries({ largeBatch, lateInDrain })) {
      expect(plan, name).to.include("Index Scan using ix_batchjob_fresh");
      expect(plan, name).to.include("Index Scan using ix_batchjob_waiting");
      expect(plan, name).not.to.include("Sort");
    }
  });

  it("claims past tasks waiting to retry without reading them", async () => {
    await migrate(dataSource);
    // 100,000 tasks backing off, two retries that are due, five fresh tasks.
    await dataSource.query(
      `INSERT INTO blog.batchjob (classname, contractname, contractjson, notbefore)
       SELECT 'T', 'C', '{}',
              CASE WHEN n <= 100000 THEN now() + interval '1 hour'
                   WHEN n <= 100002 THEN now() - interval '1 minute' END
         FROM generate_series(1, 100007) AS n`,
    );
    await dataSource.query("ANALYZE blog.batchjob");

    const plan = await claimPlan(
      dataSource,
      100,
      // The plan's own claim has marked all of them, and rolled back.
      { from: "1", passOver: "held" },
      "ANALYZE, BUFFERS, COSTS OFF, TIMING OFF",
    );
    const [top] = plan.split("\n");
    const buffers = /Buffers: shared hit=(\d+)(?: read=(\d+))?/.exec(plan)!;

    expect(top).to.match(/rows=7\b/);
    // Walking the waiting tasks read over 1,200 pages.
    expect(Number(buffers[1]) + Number(buffers[2] ?? 0)).to.be.below(100);
  });

  it("finds when the next retry is due from the index of waiting tasks", async () => {
    await migrate(dataSource);
    // 100,000 pending tasks, of which two wait: 50,000 and 100,000 s.
    await dataSource.query(
      `INSERT INTO blog.batchjob (classname, contractname, contractjson, notbefore)
       SELECT 'T', 'C', '{}',
              CASE WHEN n % 50000 = 0 THEN now() + n * interval '1 second' END
         FROM generate_series(1, 100000) AS n`,
    );
    await dataSource.query("ANALYZE blog.batchjob");
    const queryRunner = dataSource.createQueryRunner();
    const sent = await recordSentQueries(queryRunner);

    try {
      const waitMs = await msUntilNextRetry(queryRunner.manager);
      // Its one parameter is the pending status.
      const plan = await planOf(queryRunner, sent[0], [TaskStatus.Pending]);

      expect(waitMs).to.be.within(49_990_000, 50_000_000);
      expect(plan).to.include("ix_batchjob_waiting");
      expect(plan).not.to.include("ix_batchjob_fresh");
    } finally {
      await queryRunner.release();
    }
  });

  it("records outcomes by key while the statistics predate the queue", async () => {
    await migrate(dataSource);
    const insert = (status: number, count: number) =>
      dataSource.query(
        `INSERT INTO blog.batchjob (classname, contractname, contractjson, status)
         SELECT 'T', 'C', '{}', $1 FROM generate_series(1, $2)`,
        [status, count],
      );
    // Taken while the queue was small and finished.
    await insert(1, 2000);
    await dataSource.query("ANALYZE blog.batchjob");
    await insert(0, 100000);
    const smallQueue = await outcomePlan(dataSource, 60000, 100);
    // Taken before the table was emptied for the next batch.
    await dataSource.query("ANALYZE blog.batchjob");
    await dataSource.query("UPDATE blog.batchjob SET status = 1");
    await dataSource.query("ANALYZE blog.batchjob");
    await dataSource.query("TRUNCATE blog.batchjob");
    await insert(0, 40000);
    const emptiedTable = await outcomePlan(dataSource, 103000, 1000);

    for (const [name, plan] of Object.entries({ smallQueue, emptiedTable })) {
      expect(plan, name).to.include("Index Scan using pk_batchjob");
      expect(plan, name).not.to.include("Seq Scan");
    }
  });

  it("creates blog.summedsalesresult", async () => {
    await migrate(dataSource);

    const tables = await tablesIn(dataSource, "blog");

    expect(tables).to.include("summedsalesresult");
  });

  it("keeps its history in blog._ef_migration_history, not public", async () => {
    await migrate(dataSource);

    const blogTables = await tablesIn(dataSource, "blog");
    const publicTables = await tablesIn(dataSource, "public");

    expect(blogTables).to.include("_ef_migration_history");
    expect(publicTables).to.deep.equal([]);
  });

  it("records every migration in the history, oldest first", async () => {
    const applied = await migrate(dataSource);

    const history = await historyOf(dataSource);

    expect(applied).to.deep.equal(everyMigration);
    expect(history).to.deep.equal(everyMigration);
  });

  it("applies nothing when run a second time", async () => {
    await migrate(dataSource);

    const second = await migrate(dataSource);

    expect(second).to.deep.equal([]);
    expect(await historyOf(dataSource)).to.deep.equal(everyMigration);
  });

  it("lists every migration file of its folder, oldest first", () => {
    const folder = path.join(CHECKOUT, "DataLayer", "migrations");
    const files = fs
      .readdirSync(folder)
      .filter((file) => /^\d+-\w+\.ts$/.test(file))
      .sort();

    const listed = MIGRATIONS.map((migration) => migration.name);

    expect(listed).to.deep.equal(
      files.map((file) => {
        const [, timestamp, name] = /^(\d+)-(\w+)\.ts$/.exec(file)!;
        return `${name}${timestamp}`;
      }),
    );
  });

  it("reports every migration pending on an empty database", async () => {
    const states = await listMigrations(dataSource);

    expect(states.map((state) => state.applied)).to.deep.equal(
      everyMigration.map(() => false),
    );
  });

  it("indexes every status again when the status index is reverted", async () => {
    await migrate(dataSource);
    await revertThrough(dataSource, STATUS_INDEX_WITHOUT_PENDING);

    const rows: { indexdef: string }[] = await dataSource.query(
      `SELECT indexdef FROM pg_indexes
        WHERE schemaname = 'blog' AND indexname = 'ix_batchjob_status'`,
    );

    expect(rows).to.have.lengthOf(1);
    expect(rows[0].indexdef).to.match(/\(status\)$/);
  });

  it("gives a database that lost the pending index a new one", async () => {
    await migrate(dataSource);
    await revertThrough(dataSource, STATUS_INDEX_WITHOUT_PENDING);
    // The state of a database migrated while the two indexes were one.
    await dataSource.query(`DROP INDEX blog.ix_batchjob_pending`);
    await dataSource.query(`DROP INDEX blog.ix_batchjob_status`);
    await dataSource.query(
      `CREATE INDEX ix_batchjob_status ON blog.batchjob (status, id)`,
    );

    await migrate(dataSource);

    const rows: { indexname: string; indexdef: string }[] =
      await dataSource.query(
        `SELECT indexname, indexdef FROM pg_indexes
          WHERE schemaname = 'blog' AND tablename = 'batchjob'
          ORDER BY indexname`,
      );
    expect(rows.map((row) => row.indexname)).to.deep.equal([
      "ix_batchjob_fresh",
      "ix_batchjob_status",
      "ix_batchjob_waiting",
      "pk_batchjob",
    ]);
    expect(rows[0].indexdef).to.match(/\(id\) WHERE .*notbefore IS NULL/);
    expect(rows[1].indexdef).to.match(/\(status\) WHERE \(status <> 0\)$/);
  });

  it("reports applied and pending migrations after one revert", async () => {
    await migrate(dataSource);
    await revertLastMigration(dataSource);

    const states = await listMigrations(dataSource);

    const newest = everyMigration.length - 1;
    expect(states).to.deep.equal(
      everyMigration.map((name, index) => ({ name, applied: index < newest })),
    );
  });

  it("drops every table when all migrations are reverted", async () => {
    await migrate(dataSource);

    await revertAll(dataSource);

    const tables = await tablesIn(dataSource, "blog");
    expect(tables).to.deep.equal([MIGRATIONS_TABLE]);
    const functions: unknown[] = await dataSource.query(
      "SELECT proname FROM pg_proc WHERE pronamespace = 'blog'::regnamespace",
    );
    expect(functions).to.deep.equal([]);
    expect(await historyOf(dataSource)).to.deep.equal([]);
  });

  it("restores the tables when migrated again after reverting all", async () => {
    await migrate(dataSource);
    await revertAll(dataSource);

    const applied = await migrate(dataSource);

    expect(applied).to.deep.equal(everyMigration);
    expect(await tablesIn(dataSource, "blog")).to.include.members([
      "batchjob",
      "summedsalesresult",
    ]);
  });

  it("reverts nothing on a database that was never migrated", async () => {
    await revertLastMigration(dataSource);

    const states = await listMigrations(dataSource);

    expect(states.every((state) => !state.applied)).to.equal(true);
    expect(await tablesIn(dataSource, "public")).to.deep.equal([]);
  });

  it("leaves the purchasing schema and its rows alone", async () => {
    await dataSource.query("CREATE SCHEMA purchasing");
    await dataSource.query(
      "CREATE TABLE purchasing.vendor (businessentityid integer, name text)",
    );
    await dataSource.query(
      "INSERT INTO purchasing.vendor VALUES (1492, 'Australia Bike Retailer')",
    );

    await migrate(dataSource);
    await revertAll(dataSource);

    const rows = await dataSource.query(
      "SELECT businessentityid, name FROM purchasing.vendor",
    );
    expect(rows).to.deep.equal([
      { businessentityid: 1492, name: "Australia Bike Retailer" },
    ]);
  });

  it("applies each migration once when two data sources migrate at once", async () => {
    const other = await db.connect("batch-test-other");

    const results = await Promise.all([
      migrate(dataSource),
      migrate(other),
    ]).finally(() => other.destroy());

    expect(results.flat().sort()).to.deep.equal([...everyMigration].sort());
    expect(await historyOf(dataSource)).to.deep.equal(everyMigration);
  });
});

describe("migration command", () => {
  let db: TestDatabase;

  before(() => {
    if (!fs.existsSync(MIGRATION_COMMAND)) {
      throw new Error(
        `Cannot find ${MIGRATION_COMMAND}; run npm run build first`,
      );
    }
  });

  beforeEach(async () => {
    db = await createTestDatabase();
  });

  afterEach(async () => {
    await db.drop();
  });

  it("applies the migrations with run and lists them with show", async () => {
    const dataSource = await db.connect();
    const names = (await listMigrations(dataSource)).map((m) => m.name);
    await dataSource.destroy();

    const run = await runMigrationCommand("run", db.env);
    const show = await runMigrationCommand("show", db.env);

    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include(`database ${db.name}`);
    expect(run.stdout).not.to.include(String(db.settings.password));
    for (const name of names) expect(run.stdout).to.include(`Applied ${name}`);
    expect(show.code, show.stderr).to.equal(0);
    expect(show.stdout.trimEnd().split("\n").slice(1)).to.deep.equal(
      names.map((name) => `[X] ${name}`),
    );
  });

  it("says so when run finds no pending migration", async () => {
    await runMigrationCommand("run", db.env);

    const second = await runMigrationCommand("run", db.env);

    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.include("No pending migrations.");
  });
});

/**
 * claimPlan records the claim the runner sends, with its BEGIN and the
 * settings around it, and gives the plan of its SELECT under them.
 */
async function claimPlan(
  dataSource: DataSource,
  limit: number,
  scope: { from: string; passOver: "touched" | "held" },
  explain?: string,
): Promise<string> {
  const queryRunner = dataSource.createQueryRunner();
  const sent = await recordSentQueries(queryRunner);
  try {
    await claimPendingTasks(queryRunner.manager, limit, {
      ...scope,
      begin: "REPEATABLE READ",
    });
    await queryRunner.rollbackTransaction();
    const statements = sent
      .find((text) => text.startsWith("START TRANSACTION"))!
      .split("; ");

    await queryRunner.startTransaction("REPEATABLE READ");
    let plan = "";
    for (const statement of statements.slice(1)) {
      if (!/^(SELECT|WITH) /.test(statement)) {
        await queryRunner.query(statement);
        continue;
      }
      plan = await planOf(queryRunner, statement, [], explain);
    }
    return plan;
  } finally {
    if (queryRunner.isTransactionActive)
      await queryRunner.rollbackTransaction();
    await queryRunner.release();
  }
}

/**
 * outcomePlan gives the plan of the statement that writes the outcomes of
 * `count` tasks from id `first`, as a round's commit runs it.
 */
async function outcomePlan(
  dataSource: DataSource,
  first: number,
  count: number,
): Promise<string> {
  const queryRunner = dataSource.createQueryRunner();
  try {
    const now = new Date();
    const statement = outcomeUpdate(
      queryRunner.manager,
      "plan-probe",
      Array.from({ length: count }, (_, index) => ({
        id: String(first + index),
        status: TaskStatus.Done,
        startedAt: now,
        stoppedAt: now,
        error: null,
        notBefore: null,
      })),
    );
    return await planOf(queryRunner, statement);
  } finally {
    await queryRunner.release();
  }
}

/**
 * planOf gives the plan PostgreSQL would run `statement` by, as text, or
 * with `explain` set to "ANALYZE, …", the plan it ran it by.
 */
async function planOf(
  queryRunner: QueryRunner,
  statement: string,
  parameters?: unknown[],
  explain = "COSTS OFF",
): Promise<string> {
  const lines: { "QUERY PLAN": string }[] = await queryRunner.query(
    `EXPLAIN (${explain}) ${statement}`,
    parameters,
  );
  return lines.map((line) => line["QUERY PLAN"]).join("\n");
}
