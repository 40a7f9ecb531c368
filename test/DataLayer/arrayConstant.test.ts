import { expect } from "chai";
import type { ClientBase } from "pg";
import type { DataSource, QueryRunner } from "typeorm";
import { arrayConstant } from "../../DataLayer/arrayConstant";
import { AWKWARD_TEXT } from "../support/fixtures";
import { createTestDatabase, TestDatabase } from "../support/testServer";
import { thrownBy } from "../support/thrownBy";

describe("arrayConstant", function () {
  let database: TestDatabase;
  let dataSource: DataSource;
  let runner: QueryRunner;
  let client: ClientBase;

  before(async function () {
    database = await createTestDatabase();
    dataSource = await database.connect();
    runner = dataSource.createQueryRunner();
    client = (await runner.connect()) as ClientBase;
  });

  after(async function () {
    await runner?.release();
    await dataSource?.destroy();
    await database?.drop();
  });

  it("writes text that PostgreSQL reads back unchanged", async function () {
    const values = [AWKWARD_TEXT, null, "", "NULL", "\\", '"', "'", "a,b"];

    const { rows } = await client.query(
      `SELECT ${arrayConstant(values, "text")} AS value`,
    );

    expect(rows[0].value).to.deep.equal(values);
  });

  it("writes integers and nulls, and refuses anything else", async function () {
    const { rows } = await client.query(
      `SELECT ${arrayConstant(["9007199254740993", -4, null], "bigint")}::text AS value`,
    );
    expect(rows[0].value).to.equal("{9007199254740993,-4,NULL}");

    for (const bad of ["1; DROP TABLE x", "1.5", "", 1.5, Number.NaN, 1e21]) {
      expect(thrownBy(() => arrayConstant([bad], "int"))).to.be.instanceOf(
        TypeError,
      );
    }
  });
});
