import { expect } from "chai";
import type { DataSource, QueryRunner } from "typeorm";
import { beginTransaction } from "../../DataLayer/beginTransaction";
import {
  claimPendingTasks,
  fullTransactionId,
  PassOver,
} from "../../DataLayer/claim";
import { BatchJob } from "../../DataLayer/entities/BatchJob";
import { migrate } from "../../DataLayer/migrate";
import { SqlState, sqlStateOf } from "../../DataLayer/sqlState";
import { allTasks, noteTask, queue } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import { recordSentQueries } from "../support/sentQueries";
import { rejectionOf } from "../support/thrownBy";

describe("claimPendingTasks", function () {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await queue(dataSource, ["a", "b", "c", "d"].map(noteTask));
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  /** inRound runs `work` in a REPEATABLE READ transaction, then rolls back. */
  async function inRound<T>(work: (runner: QueryRunner) => Promise<T>) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await beginTransaction(runner, "REPEATABLE READ");
    try {
      return await work(runner);
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  }

  /** byId orders jobs by id, as the task table lists them. */
  function byId(jobs: BatchJob[]): BatchJob[] {
    return [...jobs].sort((a, b) => Number(a.id) - Number(b.id));
  }

  /** lockAndRollBack claims a task and gives it up, as a failed round does. */
  async function lockAndRollBack(id: string): Promise<void> {
    await dataSource
      .transaction(async (manager) => {
        await manager.query(
          "SELECT id FROM blog.batchjob WHERE id = $1 FOR UPDATE",
          [id],
        );
        throw new Error("rolled back on purpose");
      })
      .catch(() => undefined);
  }

  it("hydrates every column as TypeORM's own find does", async function () {
    await dataSource.query(
      `UPDATE blog.batchjob SET lasterror = 'boom', timeoutms = 250,
         notbefore = now() - interval '1 minute' WHERE id = 2`,
    );
    const expected = await allTasks(dataSource);

    const claimed = await inRound((runner) =>
      claimPendingTasks(runner.manager, 10),
    );

    const runner = dataSource.createQueryRunner();
    await runner.connect();
    const begun = await claimPendingTasks(runner.manager, 10, {
      begin: "REPEATABLE READ",
    }).finally(async () => {
      await runner.rollbackTransaction();
      await runner.release();
    });

    expect(claimed).to.have.length(4);
    for (const job of claimed) expect(job).to.be.instanceOf(BatchJob);
    expect(byId(claimed)).to.deep.equal(expected);
    // Also when the claim goes with its BEGIN, by the simple protocol.
    expect(byId(begun)).to.deep.equal(expected);
  });

  it("passes over a task whose last claim was rolled back, unless told not to", async function () {
    await lockAndRollBack("2");

    const untouched = await inRound((runner) =>
      claimPendingTasks(runner.manager, 10, { passOver: "touched" }),
    );
    const all = await inRound((runner) =>
      claimPendingTasks(runner.manager, 10),
    );

    expect(untouched.map((job) => job.id)).to.deep.equal(["1", "3", "4"]);
    expect(all.map((job) => job.id)).to.deep.equal(["1", "2", "3", "4"]);
  });

  it("passes over a task a peer finished after the snapshot, where a plain claim gets 40001", async function () {
    const claimAfterPeerCommit = (passOver: PassOver | undefined) =>
      inRound(async (runner) => {
        await runner.query("SELECT 1"); // takes the snapshot
        await dataSource.query(
          "UPDATE blog.batchjob SET status = 1 WHERE id = 1 AND status = 0",
        );
        return claimPendingTasks(runner.manager, 10, { passOver });
      });

    const untouched = await claimAfterPeerCommit("touched");
    await dataSource.query("UPDATE blog.batchjob SET status = 0");
    const plain = await rejectionOf(() => claimAfterPeerCommit(undefined));

    expect(untouched.map((job) => job.id)).to.deep.equal(["2", "3", "4"]);
    expect(sqlStateOf(plain)).to.equal(SqlState.SerializationFailure);
  });

  it("passes over tasks peers hold, even once they finish, and takes one whose holder rolled back", async function () {
    await lockAndRollBack("2");
    // A peer holds task 3 from before the snapshot.
    const peer = dataSource.createQueryRunner();
    await peer.connect();
    await beginTransaction(peer, "REPEATABLE READ");
    await peer.query("SELECT id FROM blog.batchjob WHERE id = 3 FOR UPDATE");

    const claimWhilePeersFinish = (passOver: PassOver | undefined) =>
      inRound(async (runner) => {
        await runner.query("SELECT 1"); // takes the snapshot
        // The peer finishes task 3, and another claims and finishes task 4,
        // both after the snapshot.
        await peer.query("UPDATE blog.batchjob SET status = 1 WHERE id = 3");
        await peer.commitTransaction();
        await dataSource.query(
          "UPDATE blog.batchjob SET status = 1 WHERE id = 4 AND status = 0",
        );
        return claimPendingTasks(runner.manager, 10, { passOver });
      });

    try {
      const held = await claimWhilePeersFinish("held");
      await dataSource.query("UPDATE blog.batchjob SET status = 0");
      await beginTransaction(peer, "REPEATABLE READ");
      await peer.query("SELECT id FROM blog.batchjob WHERE id = 3 FOR UPDATE");
      const plain = await rejectionOf(() => claimWhilePeersFinish(undefined));

      expect(held.map((job) => job.id)).to.deep.equal(["1", "2"]);
      expect(sqlStateOf(plain)).to.equal(SqlState.SerializationFailure);
    } finally {
      if (peer.isTransactionActive) await peer.rollbackTransaction();
      await peer.release();
    }
  });

  it("opens its transaction in the claim's own round trip when told to begin", async function () {
    const runner = dataSource.createQueryRunner();
    const sent = await recordSentQueries(runner);
    try {
      const claimed = await claimPendingTasks(runner.manager, 2, {
        from: "2",
        begin: "REPEATABLE READ",
      });
      const roundTrips = sent.length;
      const [level] = await runner.query("SHOW transaction_isolation");
      const [sorting] = await runner.query("SHOW enable_sort");
      const elsewhere = await inRound((other) =>
        claimPendingTasks(other.manager, 10),
      );

      expect(claimed.map((job) => job.id)).to.deep.equal(["2", "3"]);
      expect(roundTrips).to.equal(1);
      expect(sent[0]).to.match(
        /^START TRANSACTION ISOLATION LEVEL REPEATABLE READ; SET LOCAL enable_sort = off; WITH due AS \(SELECT /,
      );
      expect(level.transaction_isolation).to.equal("repeatable read");
      // Only the claim's plan is kept from sorting, not the round's others.
      expect(sorting.enable_sort).to.equal("on");
      expect(runner.isTransactionActive).to.equal(true);
      // Its locks hold until the transaction ends.
      expect(elsewhere.map((job) => job.id)).to.deep.equal(["1", "4"]);
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it("leaves a transaction to roll back when the claim it began fails", async function () {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      const failure = await rejectionOf(() =>
        claimPendingTasks(runner.manager, 2, {
          from: "not a number",
          begin: "REPEATABLE READ",
        }),
      );
      const stillOpen = runner.isTransactionActive;
      await runner.rollbackTransaction();
      const [row] = await runner.query("SELECT 1 AS one");

      expect(sqlStateOf(failure)).to.equal("22P02");
      expect(stillOpen).to.equal(true);
      expect(row.one).to.equal(1);
    } finally {
      await runner.release();
    }
  });

  it("takes the retries that are due first, earliest first, then fresh tasks", async function () {
    await queue(dataSource, ["e", "f"].map(noteTask));
    await dataSource.query(
      `UPDATE blog.batchjob SET notbefore = now() + CASE id
         WHEN 2 THEN interval '-1 minute'
         WHEN 5 THEN interval '-2 minutes'
         WHEN 3 THEN interval '1 minute' END
       WHERE id IN (2, 3, 5)`,
    );

    const claimed = await inRound((runner) =>
      claimPendingTasks(runner.manager, 3, { from: "4", passOver: "touched" }),
    );
    // The first claim marked its rows and rolled back: not held, but touched.
    const wrapped = await inRound((runner) =>
      claimPendingTasks(runner.manager, 10, { from: "4", passOver: "held" }),
    );

    expect(claimed.map((job) => job.id)).to.deep.equal(["5", "2", "4"]);
    // Task 3 is not due; the due ones are not taken twice on wrapping.
    expect(wrapped.map((job) => job.id)).to.deep.equal([
      "5",
      "2",
      "4",
      "6",
      "1",
    ]);
  });

  it("takes fresh tasks alone when told, leaving due retries", async function () {
    await dataSource.query(
      `UPDATE blog.batchjob SET notbefore = now() - interval '1 minute'
        WHERE id = 3`,
    );

    const claimed = await inRound((runner) =>
      claimPendingTasks(runner.manager, 10, {
        from: "2",
        passOver: "touched",
        freshOnly: true,
      }),
    );

    expect(claimed.map((job) => job.id)).to.deep.equal(["2", "4", "1"]);
  });

  it("starts at `from` and wraps around below it", async function () {
    const claimed = await inRound((runner) =>
      claimPendingTasks(runner.manager, 3, {
        from: "3",
        passOver: "touched",
      }),
    );

    expect(claimed.map((job) => job.id)).to.deep.equal(["3", "4", "1"]);
  });
});

describe("fullTransactionId", function () {
  let database: TestDatabase;
  let dataSource: DataSource;

  before(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
  });

  after(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("gives a 32-bit id the epoch of the full id it lies near", async function () {
    const epoch5 = 5n * 2n ** 32n;
    const cases = [
      { xid: "10", near: epoch5 + 10n, full: epoch5 + 10n },
      { xid: "20", near: epoch5 + 10n, full: epoch5 + 20n },
      // Just before the wrap: the previous epoch.
      { xid: "4294967290", near: epoch5 + 10n, full: epoch5 - 6n },
      { xid: "4294967290", near: epoch5 - 1n, full: epoch5 - 6n },
      // Nothing below zero, whatever the column held.
      { xid: "4000000000", near: 100n, full: 0n },
    ];
    for (const { xid, near, full } of cases) {
      const [row] = await dataSource.query(
        `SELECT ${fullTransactionId("$1::xid", "$2::bigint")}::text AS full`,
        [xid, String(near)],
      );
      expect(row.full, `xid ${xid} near ${near}`).to.equal(String(full));
    }
  });
});

describe("beginTransaction", function () {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await dataSource.query("CREATE TABLE note (text text)");
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  it("opens a transaction at the level asked that TypeORM can end and nest", async function () {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      await beginTransaction(runner, "REPEATABLE READ");
      const [level] = await runner.query("SHOW transaction_isolation");
      await runner.query("INSERT INTO note VALUES ('outer')");
      // A task's own transaction inside a round becomes a savepoint.
      await runner.manager
        .transaction(async (inner) => {
          await inner.query("INSERT INTO note VALUES ('inner')");
          throw new Error("inner work fails");
        })
        .catch(() => undefined);
      await runner.commitTransaction();

      expect(level.transaction_isolation).to.equal("repeatable read");
      expect(runner.isTransactionActive).to.equal(false);
      const notes = await dataSource.query("SELECT text FROM note");
      expect(notes).to.deep.equal([{ text: "outer" }]);
    } finally {
      await runner.release();
    }
  });

  it("refuses a level PostgreSQL does not know, and a second begin", async function () {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      const unknown = await rejectionOf(() =>
        beginTransaction(runner, "SNAPSHOT" as "SERIALIZABLE"),
      );
      await beginTransaction(runner, "READ COMMITTED");
      const twice = await rejectionOf(() =>
        beginTransaction(runner, "READ COMMITTED"),
      );
      await runner.rollbackTransaction();

      expect(unknown).to.be.instanceOf(TypeError);
      expect(twice).to.be.instanceOf(TypeError);
    } finally {
      await runner.release();
    }
  });
});
