import { expect } from "chai";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { DataSource } from "typeorm";
import { PurchaseOrderDetail } from "../../DataLayer/entities/PurchaseOrderDetail";
import { PurchaseOrderHeader } from "../../DataLayer/entities/PurchaseOrderHeader";
import { Vendor } from "../../DataLayer/entities/Vendor";
import {
  generateSample,
  sampleSizes,
} from "../../DataLayer/sample/generateSample";
import {
  loadSample,
  purchasingTablesExist,
  SampleSource,
} from "../../DataLayer/sample/loadSample";
import type { SampleData, SampleRow } from "../../DataLayer/sample/sampleData";
import {
  SampleFileFormatError,
  SampleFileMissingError,
  SampleTablesNotEmptyError,
} from "../../DataLayer/sample/sampleErrors";
import { createTestDatabase, TestDatabase } from "../support/testServer";

const REAL_COUNTS = { vendors: 104, headers: 4012, details: 8845 };

const REAL_DATA_DIR =
  process.env.ADVENTUREWORKS_DIR ??
  path.resolve(__dirname, "../../../shared/adventureworks");

/** useTestDatabase gives each test of a describe its own database. */
function useTestDatabase(): { readonly dataSource: DataSource } {
  let database: TestDatabase | undefined;
  let dataSource: DataSource | undefined;
  beforeEach(async () => {
    database = await createTestDatabase();
    dataSource = await database.connect();
  });
  afterEach(async () => {
    await dataSource?.destroy();
    await database?.drop();
  });
  return {
    get dataSource() {
      if (dataSource === undefined) throw new Error("No test database");
      return dataSource;
    },
  };
}

/** useTempDir gives each test an empty folder, removed after it. */
function useTempDir(): { readonly dir: string } {
  let dir: string | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sample-test-"));
  });
  afterEach(() => {
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      if (dir === undefined) throw new Error("No temp dir");
      return dir;
    },
  };
}

async function scalar(
  dataSource: DataSource,
  sql: string,
  parameters: unknown[] = [],
): Promise<unknown> {
  const [row] = await dataSource.query(sql, parameters);
  return Object.values(row)[0];
}

/** tableRows gives every row of the three tables as PostgreSQL's text. */
async function tableRows(dataSource: DataSource): Promise<string[][]> {
  const tables = ["vendor", "purchaseorderheader", "purchaseorderdetail"];
  const result: string[][] = [];
  for (const table of tables) {
    const rows: { text: string }[] = await dataSource.query(
      `SELECT t::text AS text FROM purchasing.${table} t ORDER BY 1`,
    );
    result.push(rows.map((row) => row.text));
  }
  return result;
}

async function expectRejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("Expected the promise to reject");
}

/** A few real rows, as the CSV form writes them. */
// prettier-ignore
const FIXTURE = {
  vendor: [
    ["1492", "AUSTRALI0001", "Australia Bike Retailer", "1", "1", "1", "",
      "2011-12-23 00:00:00"],
    ["1498", "TRIKES0001", "Trikes, Inc.", "2", "1", "1", "",
      "2012-02-03 00:00:00"],
    ["1580", "LITWARE0001", "Litware, Inc.", "1", "1", "0",
      "www.litwareinc.com/", "2011-04-25 00:00:00"],
  ],
  purchaseorderheader: [
    ["1", "4", "4", "258", "1580", "3", "2011-04-16 00:00:00",
      "2011-04-25 00:00:00", "201.0400", "16.0832", "5.0260",
      "2011-04-25 00:00:00"],
    ["2", "4", "1", "254", "1492", "5", "2011-04-16 00:00:00",
      "2011-04-25 00:00:00", "272.1015", "21.7681", "6.8025",
      "2011-04-25 00:00:00"],
  ],
  purchaseorderdetail: [
    ["1", "1", "2011-04-30 00:00:00", "4", "1", "50.2600", "3.00", "0.00",
      "2011-04-23 00:00:00"],
    ["2", "2", "2011-04-30 00:00:00", "3", "359", "45.1200", "3.00", "0.00",
      "2011-04-23 00:00:00"],
    ["2", "3", "2011-04-30 00:00:00", "3", "360", "45.5805", "3.00", "0.00",
      "2011-04-23 00:00:00"],
  ],
};

const CSV_HEADERS = {
  vendor:
    "businessentityid,accountnumber,name,creditrating," +
    "preferredvendorstatus,activeflag,purchasingwebserviceurl,modifieddate",
  purchaseorderheader:
    "purchaseorderid,revisionnumber,status,employeeid,vendorid," +
    "shipmethodid,orderdate,shipdate,subtotal,taxamt,freight,modifieddate",
  purchaseorderdetail:
    "purchaseorderid,purchaseorderdetailid,duedate,orderqty,productid," +
    "unitprice,receivedqty,rejectedqty,modifieddate",
};

type FixtureTable = keyof typeof FIXTURE;
const FIXTURE_TABLES = Object.keys(FIXTURE) as FixtureTable[];

function writeCsvFixture(dir: string): void {
  for (const table of FIXTURE_TABLES) {
    const lines = FIXTURE[table].map((row) =>
      row.map((f) => (f.includes(",") ? `"${f}"` : f)).join(","),
    );
    const text = [CSV_HEADERS[table], ...lines].join("\n") + "\n";
    fs.writeFileSync(path.join(dir, `${table}.csv`), text);
  }
}

/**
 * microsoftRow writes a fixture row as SQL Server exports it: the computed
 * columns put back and datetimes with milliseconds.
 */
function microsoftRow(table: FixtureTable, row: string[]): string[] {
  const fields = row.map((f) => (/^\d{4}-\d\d-\d\d /.test(f) ? `${f}.000` : f));
  const money = (text: string) => Math.round(Number(text) * 10_000);
  const decimal4 = (units: number) => (units / 10_000).toFixed(4);
  if (table === "purchaseorderheader") {
    const total = money(row[8]) + money(row[9]) + money(row[10]);
    fields.splice(11, 0, decimal4(total));
  }
  if (table === "purchaseorderdetail") {
    const lineTotal = Number(row[3]) * money(row[5]);
    const stocked = (Number(row[6]) - Number(row[7])).toFixed(2);
    fields.splice(8, 0, stocked);
    fields.splice(6, 0, decimal4(lineTotal));
  }
  return fields;
}

const MICROSOFT_NAMES: Record<FixtureTable, string> = {
  vendor: "Vendor.csv",
  purchaseorderheader: "PurchaseOrderHeader.csv",
  purchaseorderdetail: "PurchaseOrderDetail.csv",
};

function writeMicrosoftFixture(dir: string, encoding: "utf16le" | "utf8") {
  for (const table of FIXTURE_TABLES) {
    const lines = FIXTURE[table].map((row) =>
      microsoftRow(table, row).join("\t"),
    );
    const file = path.join(dir, MICROSOFT_NAMES[table]);
    if (encoding === "utf16le") {
      const text = lines.join("\r\n") + "\r\n";
      const bom = Buffer.from([0xff, 0xfe]);
      const body = Buffer.from(text, "utf16le");
      fs.writeFileSync(file, Buffer.concat([bom, body]));
    } else {
      fs.writeFileSync(file, lines.join("\n") + "\n", "utf8");
    }
  }
}

function allRows(data: SampleData): {
  vendors: SampleRow[];
  headers: SampleRow[];
  details: SampleRow[];
} {
  const vendors = [...data.vendors()].flat();
  const batches = [...data.orders()];
  return {
    vendors,
    headers: batches.flatMap((batch) => batch.headers),
    details: batches.flatMap((batch) => batch.details),
  };
}

describe("loadSample from a folder", function () {
  this.timeout(60_000);
  const db = useTestDatabase();
  const temp = useTempDir();

  it("loads the real AdventureWorks files with the README's facts", async () => {
    const source: SampleSource = { kind: "folder", dir: REAL_DATA_DIR };

    const counts = await loadSample(db.dataSource, source);

    expect(counts).to.deep.equal(REAL_COUNTS);
    const ds = db.dataSource;
    expect(
      await scalar(
        ds,
        "SELECT sum(subtotal)::text FROM purchasing.purchaseorderheader",
      ),
    ).to.equal("63791994.8380");
    expect(
      await scalar(
        ds,
        "SELECT sum(orderqty * unitprice)::text FROM purchasing.purchaseorderdetail",
      ),
    ).to.equal("63791994.8380");
    expect(
      await scalar(
        ds,
        "SELECT count(DISTINCT vendorid)::int FROM purchasing.purchaseorderheader",
      ),
    ).to.equal(86);
    expect(
      await scalar(
        ds,
        "SELECT count(*)::int FROM purchasing.vendor " +
          "WHERE purchasingwebserviceurl IS NULL",
      ),
    ).to.equal(98);
  });

  it("loads vendor 1492's orders exactly", async () => {
    await loadSample(db.dataSource, { kind: "folder", dir: REAL_DATA_DIR });

    const [row] = await db.dataSource.query(
      "SELECT (SELECT sum(subtotal)::text FROM purchasing.purchaseorderheader " +
        "WHERE vendorid = $1) AS subtotal, " +
        "(SELECT count(*)::int FROM purchasing.purchaseorderdetail d " +
        "JOIN purchasing.purchaseorderheader h USING (purchaseorderid) " +
        "WHERE h.vendorid = $1) AS lines",
      [1492],
    );
    expect(row).to.deep.equal({ subtotal: "22678.7715", lines: 176 });
  });

  it("reads a quoted name with a comma and an empty field as NULL", async () => {
    writeCsvFixture(temp.dir);

    await loadSample(db.dataSource, { kind: "folder", dir: temp.dir });

    const rows = await db.dataSource.query(
      "SELECT name, purchasingwebserviceurl AS url FROM purchasing.vendor " +
        "ORDER BY businessentityid",
    );
    expect(rows).to.deep.equal([
      { name: "Australia Bike Retailer", url: null },
      { name: "Trikes, Inc.", url: null },
      { name: "Litware, Inc.", url: "www.litwareinc.com/" },
    ]);
  });

  for (const encoding of ["utf16le", "utf8"] as const) {
    it(`reads Microsoft's tab-separated ${encoding} files as the CSV form`, async () => {
      writeCsvFixture(temp.dir);
      await loadSample(db.dataSource, { kind: "folder", dir: temp.dir });
      const fromCsv = await tableRows(db.dataSource);
      await db.dataSource.query("DROP SCHEMA purchasing CASCADE");
      const microsoftDir = fs.mkdtempSync(path.join(temp.dir, "microsoft-"));
      writeMicrosoftFixture(microsoftDir, encoding);

      const counts = await loadSample(db.dataSource, {
        kind: "folder",
        dir: microsoftDir,
      });

      expect(counts).to.deep.equal({ vendors: 3, headers: 2, details: 3 });
      expect(await tableRows(db.dataSource)).to.deep.equal(fromCsv);
    });
  }

  it("names the file and line of a record with too few fields", async () => {
    writeCsvFixture(temp.dir);
    const file = path.join(temp.dir, "purchaseorderheader.csv");
    const lines = fs.readFileSync(file, "utf8").split("\n");
    lines[2] = lines[2].split(",").slice(0, 5).join(",");
    fs.writeFileSync(file, lines.join("\n"));

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "folder", dir: temp.dir }),
    );

    expect(error).to.be.instanceOf(SampleFileFormatError);
    expect(error.message).to.include(`${file} line 3`);
    expect(error.message).to.include("expected 12 fields, got 5");
    expect(await purchasingTablesExist(db.dataSource)).to.equal(false);
  });

  it("names the file and line of an unclosed quote", async () => {
    writeCsvFixture(temp.dir);
    const file = path.join(temp.dir, "vendor.csv");
    fs.appendFileSync(file, '1600,X0001,"Open quote,1,1,1,,2011-01-01\n');

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "folder", dir: temp.dir }),
    );

    expect(error).to.be.instanceOf(SampleFileFormatError);
    expect(error.message).to.include(`${file} line 5`);
    expect(error.message).to.include("never closed");
  });

  it("names the file, line and column of a value of the wrong type", async () => {
    writeCsvFixture(temp.dir);
    const file = path.join(temp.dir, "purchaseorderdetail.csv");
    const text = fs.readFileSync(file, "utf8").replace("50.2600", "fifty");
    fs.writeFileSync(file, text);

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "folder", dir: temp.dir }),
    );

    expect(error).to.be.instanceOf(SampleFileFormatError);
    expect(error.message).to.include(`${file} line 2: column unitprice`);
  });

  it("names a missing file", async () => {
    writeCsvFixture(temp.dir);
    fs.rmSync(path.join(temp.dir, "purchaseorderdetail.csv"));

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "folder", dir: temp.dir }),
    );

    expect(error).to.be.instanceOf(SampleFileMissingError);
    expect(error.message).to.include("purchaseorderdetail.csv");
  });
});

describe("generateSample", () => {
  it("gives the same rows for the same seed", () => {
    const first = allRows(generateSample({ seed: 7, scale: 0.5 }));
    const second = allRows(generateSample({ seed: 7, scale: 0.5 }));

    expect(second).to.deep.equal(first);
  });

  it("gives different rows for different seeds", () => {
    const first = allRows(generateSample({ seed: 7, scale: 0.5 }));
    const second = allRows(generateSample({ seed: 8, scale: 0.5 }));

    expect(second.vendors).to.not.deep.equal(first.vendors);
    expect(second.details).to.not.deep.equal(first.details);
  });

  it("has the real cardinalities at scale 1", () => {
    const rows = allRows(generateSample({ seed: 1, scale: 1 }));

    expect(rows.vendors).to.have.length(104);
    expect(rows.headers).to.have.length(4012);
    expect(rows.details).to.have.length(8845);
    expect(new Set(rows.headers.map((row) => row[4])).size).to.equal(86);
  });

  it("doubles the counts at scale 2", () => {
    const rows = allRows(generateSample({ seed: 1, scale: 2 }));

    expect(rows.vendors).to.have.length(208);
    expect(rows.headers).to.have.length(8024);
    expect(rows.details).to.have.length(17690);
    expect(sampleSizes(100).details).to.equal(884_500);
  });

  it("rejects a seed that is not an integer", () => {
    for (const seed of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => generateSample({ seed, scale: 1 })).to.throw(
        RangeError,
        "seed must be an integer",
      );
    }
  });

  it("rejects a scale outside 0 to 1000", () => {
    for (const scale of [0, -1, 1000.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => generateSample({ seed: 1, scale })).to.throw(
        RangeError,
        "scale must be a number above 0",
      );
    }
  });
});

describe("loadSample of generated data", function () {
  this.timeout(60_000);
  const db = useTestDatabase();

  it("loads the real cardinalities with some vendors that have no orders", async () => {
    const counts = await loadSample(db.dataSource, {
      kind: "generated",
      seed: 1,
      scale: 1,
    });

    expect(counts).to.deep.equal(REAL_COUNTS);
    expect(
      await scalar(
        db.dataSource,
        "SELECT count(*)::int FROM purchasing.vendor v WHERE NOT EXISTS " +
          "(SELECT 1 FROM purchasing.purchaseorderheader h " +
          "WHERE h.vendorid = v.businessentityid)",
      ),
    ).to.equal(18);
  });

  it("makes each subtotal the exact sum of its lines", async () => {
    await loadSample(db.dataSource, { kind: "generated", seed: 3, scale: 1 });

    const [row] = await db.dataSource.query(`
      SELECT
        count(*) FILTER (WHERE l.total IS NULL)::int AS without_lines,
        count(*) FILTER (WHERE h.subtotal <> l.total)::int AS wrong_subtotal,
        count(*) FILTER (WHERE h.taxamt <> round(h.subtotal * 0.08, 4)
          OR h.freight <> round(h.subtotal * 0.025, 4))::int AS wrong_charges
      FROM purchasing.purchaseorderheader h
      LEFT JOIN (
        SELECT purchaseorderid, sum(orderqty * unitprice) AS total
        FROM purchasing.purchaseorderdetail GROUP BY purchaseorderid
      ) l USING (purchaseorderid)`);
    expect(row).to.deep.equal({
      without_lines: 0,
      wrong_subtotal: 0,
      wrong_charges: 0,
    });
  });

  it("keeps dates, statuses and ids in the documented ranges", async () => {
    await loadSample(db.dataSource, { kind: "generated", seed: 4, scale: 1 });

    const [row] = await db.dataSource.query(`
      SELECT min(orderdate)::date::text AS first, max(orderdate)::date::text
        AS last, min(status) AS min_status, max(status) AS max_status,
        min(employeeid) AS min_employee, max(employeeid) AS max_employee,
        min(shipmethodid) AS min_ship, max(shipmethodid) AS max_ship
      FROM purchasing.purchaseorderheader`);
    expect(row).to.deep.equal({
      first: "2011-04-16",
      last: "2014-09-21",
      min_status: 1,
      max_status: 4,
      min_employee: 250,
      max_employee: 261,
      min_ship: 1,
      max_ship: 5,
    });
  });

  it("rejects a bad seed or scale before touching the database", async () => {
    const sources: SampleSource[] = [
      { kind: "generated", seed: 0.5, scale: 1 },
      { kind: "generated", seed: 1, scale: 0 },
      { kind: "generated", seed: 1, scale: 1001 },
    ];
    for (const source of sources) {
      const error = await expectRejection(loadSample(db.dataSource, source));

      expect(error).to.be.instanceOf(RangeError);
    }
    expect(await purchasingTablesExist(db.dataSource)).to.equal(false);
  });
});

describe("loadSample into existing tables", function () {
  this.timeout(60_000);
  const db = useTestDatabase();

  it("refuses tables that already hold rows and leaves them untouched", async () => {
    await loadSample(db.dataSource, { kind: "generated", seed: 1, scale: 1 });
    const before = await tableRows(db.dataSource);

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "generated", seed: 2, scale: 1 }),
    );

    expect(error).to.be.instanceOf(SampleTablesNotEmptyError);
    expect(error).to.include({ table: "purchasing.vendor", rowCount: 104 });
    expect(await tableRows(db.dataSource)).to.deep.equal(before);
  });

  it("writes nothing when only a later table holds rows", async () => {
    await db.dataSource.query(`
      CREATE SCHEMA purchasing;
      CREATE TABLE purchasing.purchaseorderdetail (
        purchaseorderid integer, purchaseorderdetailid integer,
        duedate timestamp, orderqty smallint, productid integer,
        unitprice numeric, receivedqty numeric, rejectedqty numeric,
        modifieddate timestamp);
      INSERT INTO purchasing.purchaseorderdetail
        VALUES (1, 1, now(), 1, 1, 1, 1, 0, now())`);

    const error = await expectRejection(
      loadSample(db.dataSource, { kind: "generated", seed: 1, scale: 1 }),
    );

    expect(error).to.be.instanceOf(SampleTablesNotEmptyError);
    expect(error.message).to.include(
      "purchasing.purchaseorderdetail already holds 1 rows",
    );
    const [row] = await db.dataSource.query(
      "SELECT to_regclass('purchasing.vendor')::text AS vendor, " +
        "(SELECT count(*)::int FROM purchasing.purchaseorderdetail) AS details",
    );
    expect(row).to.deep.equal({ vendor: null, details: 1 });
  });

  it("creates only the missing tables and keeps an existing empty one", async () => {
    await db.dataSource.query(`
      CREATE SCHEMA purchasing;
      CREATE TABLE purchasing.vendor (
        businessentityid integer, accountnumber text, name text,
        creditrating smallint, preferredvendorstatus boolean,
        activeflag boolean, purchasingwebserviceurl text,
        modifieddate timestamp, note text)`);

    await loadSample(db.dataSource, { kind: "generated", seed: 1, scale: 1 });

    const constraints = await db.dataSource.query(
      "SELECT conname FROM pg_constraint WHERE connamespace = " +
        "'purchasing'::regnamespace AND contype IN ('p', 'f', 'u') " +
        "ORDER BY conname",
    );
    const names = constraints.map((c: { conname: string }) => c.conname);
    expect(names).to.deep.equal([
      "fk_purchaseorderdetail_purchaseorderheader",
      "pk_purchaseorderdetail",
      "pk_purchaseorderheader",
    ]);
    expect(
      await scalar(
        db.dataSource,
        "SELECT count(*)::int FROM information_schema.columns " +
          "WHERE table_schema = 'purchasing' AND table_name = 'vendor' " +
          "AND column_name = 'note'",
      ),
    ).to.equal(1);
    expect(
      await scalar(
        db.dataSource,
        "SELECT count(*)::int FROM purchasing.vendor",
      ),
    ).to.equal(104);
    expect(
      await scalar(
        db.dataSource,
        "SELECT to_regclass('purchasing.ix_purchaseorderheader_vendorid')::text",
      ),
    ).to.equal("purchasing.ix_purchaseorderheader_vendorid");
  });

  it("creates tables with the entities' columns", async () => {
    await loadSample(db.dataSource, { kind: "generated", seed: 1, scale: 0.1 });

    for (const entity of [Vendor, PurchaseOrderHeader, PurchaseOrderDetail]) {
      const metadata = db.dataSource.getMetadata(entity);
      const rows: { column_name: string }[] = await db.dataSource.query(
        "SELECT column_name FROM information_schema.columns " +
          "WHERE table_schema = $1 AND table_name = $2 ORDER BY column_name",
        [metadata.schema, metadata.tableName],
      );
      const expected = metadata.columns.map((c) => c.databaseName).sort();
      expect(rows.map((row) => row.column_name)).to.deep.equal(expected);
    }
  });

  it("reports whether all three tables exist", async () => {
    expect(await purchasingTablesExist(db.dataSource)).to.equal(false);
    await db.dataSource.query(
      "CREATE SCHEMA purchasing; CREATE TABLE purchasing.vendor (id int)",
    );
    expect(await purchasingTablesExist(db.dataSource)).to.equal(false);
    await db.dataSource.query("DROP SCHEMA purchasing CASCADE");

    await loadSample(db.dataSource, { kind: "generated", seed: 1, scale: 0.1 });

    expect(await purchasingTablesExist(db.dataSource)).to.equal(true);
  });
});
