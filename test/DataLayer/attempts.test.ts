import { expect } from "chai";
import type { DataSource } from "typeorm";
import { countAttempts, refundAttempts } from "../../DataLayer/attempts";
import { migrate } from "../../DataLayer/migrate";
import { allTasks, noteTask, queue } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";

describe("countAttempts", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let ids: string[];

  beforeEach(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    await migrate(dataSource);
    await queue(dataSource, ["a", "b", "c"].map(noteTask));
    ids = (await allTasks(dataSource)).map((job) => job.id);
  });

  afterEach(async function () {
    await dataSource?.destroy();
    await database?.drop();
  });

  async function storedAttempts(): Promise<Record<string, number>> {
    const rows: { taskid: string; attempts: number }[] = await dataSource.query(
      "SELECT taskid::text, attempts FROM blog.batchjobattempt",
    );
    return Object.fromEntries(rows.map((row) => [row.taskid, row.attempts]));
  }

  it("leaves tasks on their first attempt out of what it returns", async function () {
    const attempts = await countAttempts(dataSource, "runner-1", ids);

    expect([...attempts]).to.deep.equal([]);
    expect(await storedAttempts()).to.deep.equal({
      [ids[0]]: 1,
      [ids[1]]: 1,
      [ids[2]]: 1,
    });
  });

  it("returns the attempts of the tasks claimed before", async function () {
    await countAttempts(dataSource, "runner-1", [ids[0], ids[1]]);
    await countAttempts(dataSource, "runner-2", [ids[0]]);

    const attempts = await countAttempts(dataSource, "runner-3", ids);

    expect(Object.fromEntries(attempts)).to.deep.equal({
      [ids[0]]: 3,
      [ids[1]]: 2,
    });
  });

  it("counts a refunded attempt as not spent", async function () {
    await countAttempts(dataSource, "runner-1", ids);
    await refundAttempts(dataSource, [ids[1]]);

    const attempts = await countAttempts(dataSource, "runner-2", ids);

    expect(Object.fromEntries(attempts)).to.deep.equal({
      [ids[0]]: 2,
      [ids[2]]: 2,
    });
  });
});
