import { expect } from "chai";
import type { DataSource, QueryRunner } from "typeorm";
import { awaitHeldTask } from "../../DataLayer/awaitHeldTask";
import { migrate } from "../../DataLayer/migrate";
import { lockWaiters, noteTask, queue, waitFor } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

describe("awaitHeldTask", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let holder: QueryRunner;

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await queue(dataSource, ["a", "b"].map(noteTask));
    holder = dataSource.createQueryRunner();
    await holder.connect();
  });

  afterEach(async function () {
    if (holder?.isTransactionActive) await holder.rollbackTransaction();
    await holder?.release();
    await dataSource?.destroy();
    await database?.drop();
  });

  /** hold locks tasks as a peer's round does, until it commits or not. */
  async function hold(...ids: number[]): Promise<void> {
    await holder.startTransaction("REPEATABLE READ");
    await holder.query(
      "SELECT id FROM blog.batchjob WHERE id = ANY($1) FOR UPDATE",
      [ids],
    );
  }

  /**
   * blockedWait starts a wait and gives it, wrapped so that awaiting this
   * does not await the wait too, once it is blocked on a row lock.
   */
  async function blockedWait(timeoutMs: number) {
    const wait = awaitHeldTask(dataSource, timeoutMs);
    await waitFor("the wait to block on the held row", async () => {
      return (await lockWaiters(dataSource)) > 0;
    });
    return { wait };
  }

  it("ends at once when no task is pending", async function () {
    await dataSource.query("UPDATE blog.batchjob SET status = 1");

    expect(await awaitHeldTask(dataSource, 60_000)).to.equal("ended");
  });

  it("says freed at once when a pending task is not held", async function () {
    expect(await awaitHeldTask(dataSource, 60_000)).to.equal("freed");
  });

  it("says freed when the round holding a task rolls back", async function () {
    await hold(1, 2);
    const { wait } = await blockedWait(60_000);

    await holder.rollbackTransaction();

    expect(await wait).to.equal("freed");
  });

  it("ends when the round holding the last tasks commits them done", async function () {
    await hold(1, 2);
    const { wait } = await blockedWait(60_000);

    await holder.query("UPDATE blog.batchjob SET status = 1");
    await holder.commitTransaction();

    expect(await wait).to.equal("ended");
  });

  it("ends when the held task goes back to wait for its retry", async function () {
    await dataSource.query("UPDATE blog.batchjob SET status = 1 WHERE id = 2");
    await hold(1);
    const { wait } = await blockedWait(60_000);

    await holder.query(
      `UPDATE blog.batchjob SET notbefore = now() + interval '1 hour'
        WHERE id = 1`,
    );
    await holder.commitTransaction();

    expect(await wait).to.equal("ended");
  });

  it("waits for a due retry that a round holds, too", async function () {
    await dataSource.query(
      `UPDATE blog.batchjob SET status = 1 WHERE id = 1;
       UPDATE blog.batchjob SET notbefore = now() - interval '1 minute'
        WHERE id = 2`,
    );
    await hold(2);
    const { wait } = await blockedWait(60_000);

    await holder.rollbackTransaction();

    expect(await wait).to.equal("freed");
  });

  it("says held when the wait times out", async function () {
    await hold(1, 2);

    expect(await awaitHeldTask(dataSource, 50)).to.equal("held");
    // The wait leaves nothing open behind it.
    expect(await lockWaiters(dataSource)).to.equal(0);
  });
});
