import { expect } from "chai";
import type { DataSource, QueryRunner } from "typeorm";
import { beginTransaction } from "../../DataLayer/beginTransaction";
import { claimPendingTasks } from "../../DataLayer/claim";
import { ClaimLostError } from "../../DataLayer/ClaimLostError";
import { migrate } from "../../DataLayer/migrate";
import {
  commitOutcomes,
  outcomeUpdate,
  RoundCommit,
  TaskOutcome,
} from "../../DataLayer/commitOutcomes";
import { SqlState, sqlStateOf } from "../../DataLayer/sqlState";
import { TaskStatus } from "../../DataLayer/TaskStatus";
import { AWKWARD_TEXT, noteTask, queue } from "../support/fixtures";
import { recordSentQueries } from "../support/sentQueries";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import { rejectionOf } from "../support/thrownBy";

describe("commitOutcomes", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let runner: QueryRunner;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await queue(dataSource, ["a", "b", "c"].map(noteTask));
    runner = dataSource.createQueryRunner();
  });

  afterEach(async function () {
    await runner?.release();
    await dataSource?.destroy();
    await database?.drop();
  });

  async function claimAll(): Promise<string[]> {
    await runner.connect();
    await beginTransaction(runner, "REPEATABLE READ");
    const jobs = await claimPendingTasks(runner.manager, 10);
    return jobs.map((job) => job.id);
  }

  function outcomesOf(ids: readonly string[]): TaskOutcome[] {
    return ids.map((id, index) => ({
      id,
      status: index === 0 ? TaskStatus.Done : TaskStatus.Pending,
      startedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6 + index)),
      stoppedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 6, 7 + index)),
      error: index === 0 ? null : `${AWKWARD_TEXT} #${index}`,
      notBefore:
        index === 0 ? null : new Date(Date.UTC(2026, 0, 3, 0, 0, 0, index)),
    }));
  }

  it("writes the outcomes and commits in one query", async function () {
    const ids = await claimAll();
    const sent = await recordSentQueries(runner);

    await commitOutcomes(runner, "runner-1", outcomesOf(ids));

    expect(sent).to.have.length(1);
    expect(sent[0]).to.match(/^WITH recorded AS \(UPDATE .*; COMMIT$/s);
    expect(runner.isTransactionActive).to.equal(false);
    const rows: Record<string, unknown>[] = await dataSource.query(
      `SELECT id::text, status, runnerid, startedat, stoppedat, lasterror,
         notbefore FROM blog.batchjob ORDER BY id`,
    );
    expect(rows).to.deep.equal(
      outcomesOf(ids).map((outcome) => ({
        id: outcome.id,
        status: outcome.status,
        runnerid: "runner-1",
        startedat: outcome.startedAt,
        stoppedat: outcome.stoppedAt,
        lasterror: outcome.error,
        notbefore: outcome.notBefore,
      })),
    );
  });

  it("sends the statement whose plan the outcome tests check", async function () {
    const ids = await claimAll();
    const outcomes = outcomesOf(ids);
    const update = outcomeUpdate(runner.manager, "runner-1", outcomes);
    const sent = await recordSentQueries(runner);

    await commitOutcomes(runner, "runner-1", outcomes);

    expect(sent[0]).to.include(update);
  });

  it("commits nothing and raises ClaimLostError when a held row is missing", async function () {
    const ids = await claimAll();
    // Only the round's own transaction can remove a row that it holds.
    await runner.query("DELETE FROM blog.batchjob WHERE id = $1", [ids[1]]);

    const error = await rejectionOf(() =>
      commitOutcomes(runner, "runner-1", outcomesOf(ids)),
    );

    expect(error).to.be.instanceOf(ClaimLostError);
    expect((error as ClaimLostError).taskIds).to.deep.equal(ids);
    expect((error as ClaimLostError).recorded).to.equal(ids.length - 1);
    expect(runner.isTransactionActive).to.equal(true);
    await runner.rollbackTransaction();
    const rows: { status: number; runnerid: string | null }[] =
      await dataSource.query(
        "SELECT status, runnerid FROM blog.batchjob ORDER BY id",
      );
    expect(rows).to.deep.equal(
      ids.map(() => ({ status: TaskStatus.Pending, runnerid: null })),
    );
  });

  it("refuses to commit while a transaction opened inside the round is open", async function () {
    const ids = await claimAll();
    await runner.startTransaction();

    const error = await rejectionOf(() =>
      commitOutcomes(runner, "runner-1", outcomesOf(ids)),
    );

    expect(error).to.be.instanceOf(TypeError);
    expect(runner.isTransactionActive).to.equal(true);
    await runner.rollbackTransaction();
    await runner.rollbackTransaction();
  });

  it("commits a round with no outcomes", async function () {
    await claimAll();

    await commitOutcomes(runner, "runner-1", []);

    expect(runner.isTransactionActive).to.equal(false);
    const [{ open }] = (await runner.query(
      "SELECT count(*)::int AS open FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'transactionid'",
    )) as { open: number }[];
    expect(open).to.equal(0);
  });

  describe("ahead of the next round's claim", function () {
    /** claimFirst opens a round on `runner` holding the first task. */
    async function claimFirst(): Promise<string> {
      await runner.connect();
      await beginTransaction(runner, "REPEATABLE READ");
      const [job] = await claimPendingTasks(runner.manager, 1);
      return job.id;
    }

    /** claimElsewhere claims what another connection can, and rolls back. */
    async function claimElsewhere(): Promise<string[]> {
      const other = dataSource.createQueryRunner();
      await other.connect();
      await beginTransaction(other, "REPEATABLE READ");
      try {
        const jobs = await claimPendingTasks(other.manager, 10);
        return jobs.map((job) => job.id);
      } finally {
        await other.rollbackTransaction();
        await other.release();
      }
    }

    async function statusOf(id: string): Promise<number> {
      const [row] = await dataSource.query(
        "SELECT status FROM blog.batchjob WHERE id = $1",
        [id],
      );
      return row.status;
    }

    it("commits the round and claims the next in one round trip", async function () {
      const first = await claimFirst();
      const sent = await recordSentQueries(runner);
      const commit = new RoundCommit(runner, "runner-1", outcomesOf([first]));

      const next = await claimPendingTasks(runner.manager, 1, {
        begin: "REPEATABLE READ",
        commitFirst: commit,
      });

      expect(sent).to.have.length(1);
      expect(sent[0]).to.match(
        /^WITH recorded AS \(UPDATE .*; COMMIT; START TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET LOCAL enable_sort = off; /s,
      );
      expect(commit.committed).to.equal(true);
      expect(next.map((job) => job.id)).to.deep.equal(["2"]);
      expect(await statusOf(first)).to.equal(TaskStatus.Done);
      // The next round holds its task until its own transaction ends.
      expect(runner.isTransactionActive).to.equal(true);
      expect(await claimElsewhere()).to.deep.equal(["3"]);
      await runner.rollbackTransaction();
      expect(await claimElsewhere()).to.deep.equal(["2", "3"]);
    });

    it("keeps the commit when the claim after it fails", async function () {
      const first = await claimFirst();
      const commit = new RoundCommit(runner, "runner-1", outcomesOf([first]));

      const failure = await rejectionOf(() =>
        claimPendingTasks(runner.manager, 1, {
          from: "not a number",
          begin: "REPEATABLE READ",
          commitFirst: commit,
        }),
      );

      expect(sqlStateOf(failure)).to.equal("22P02");
      expect(commit.committed).to.equal(true);
      expect(await statusOf(first)).to.equal(TaskStatus.Done);
      // The claim's own transaction failed and is left to roll back.
      expect(runner.isTransactionActive).to.equal(true);
      await runner.rollbackTransaction();
      expect(await claimElsewhere()).to.deep.equal(["2", "3"]);
    });

    it("claims nothing when the round cannot commit", async function () {
      const first = await claimFirst();
      await runner.query("DELETE FROM blog.batchjob WHERE id = $1", [first]);
      const commit = new RoundCommit(runner, "runner-1", outcomesOf([first]));

      const failure = await rejectionOf(() =>
        claimPendingTasks(runner.manager, 1, {
          begin: "REPEATABLE READ",
          commitFirst: commit,
        }),
      );

      expect(failure).to.be.instanceOf(ClaimLostError);
      expect(sqlStateOf((failure as ClaimLostError).cause)).to.equal(
        SqlState.ClaimLost,
      );
      expect(commit.committed).to.equal(false);
      expect(runner.isTransactionActive).to.equal(true);
      await runner.rollbackTransaction();
      expect(await statusOf(first)).to.equal(TaskStatus.Pending);
      expect(await claimElsewhere()).to.deep.equal(["1", "2", "3"]);
    });

    it("refuses to commit ahead of a claim that opens no transaction", async function () {
      const first = await claimFirst();
      const commit = new RoundCommit(runner, "runner-1", outcomesOf([first]));

      const error = await rejectionOf(() =>
        claimPendingTasks(runner.manager, 1, { commitFirst: commit }),
      );

      expect(error).to.be.instanceOf(TypeError);
      expect(commit.committed).to.equal(undefined);
      expect(runner.isTransactionActive).to.equal(true);
      await runner.rollbackTransaction();
    });
  });
});
