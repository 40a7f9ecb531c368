import type { DataSource, EntityManager } from "typeorm";
import { silentLogger, type Logger } from "../../Contracts/Logger";
import { generateSample } from "./generateSample";
import {
  addForeignKeys,
  createPurchasingTables,
  DETAIL_TABLE,
  HEADER_TABLE,
  PURCHASING_TABLES,
  TableSpec,
  VENDOR_TABLE,
} from "./purchasingTables";
import { readSampleFolder } from "./readSampleFolder";
import type { SampleData, SampleRow } from "./sampleData";
import { SampleTablesNotEmptyError } from "./sampleErrors";

export { purchasingTablesExist } from "./purchasingTables";

/**
 * SampleSource says what to load: the official AdventureWorks files in a
 * folder (see readSampleFolder), or a generated data set (see
 * generateSample).
 */
export type SampleSource =
  | { readonly kind: "folder"; readonly dir: string }
  | {
      readonly kind: "generated";
      readonly seed: number;
      readonly scale: number;
    };

/** SampleCounts are the rows loaded into each purchasing table. */
export interface SampleCounts {
  readonly vendors: number;
  readonly headers: number;
  readonly details: number;
}

/** INSERT_CHUNK_SIZE is rows per INSERT; it bounds one statement's size. */
export const INSERT_CHUNK_SIZE = 10_000;

/** PROGRESS_EVERY is how many orders pass between progress lines at info. */
const PROGRESS_EVERY = 100_000;

/**
 * loadSample fills purchasing.vendor, purchaseorderheader and
 * purchaseorderdetail from `source`, creating the tables that are absent,
 * all in one transaction, then analyzes them so that the planner sees
 * their new size. Foreign keys between tables it created are added after
 * the rows. It logs each table's row count at info, and progress every
 * 100,000 orders.
 *
 * @throws {RangeError} for a bad seed or scale, before any database work.
 * @throws {SampleFileMissingError} or {SampleFileFormatError} when the
 *   folder's files are missing or malformed, also before database work.
 * @throws {SampleTablesNotEmptyError} when a table already holds rows; the
 *   transaction is rolled back, so nothing is written.
 */
export async function loadSample(
  dataSource: DataSource,
  source: SampleSource,
  log: Logger = silentLogger,
): Promise<SampleCounts> {
  const data = await openSample(source, log);

  const counts = await dataSource.transaction((manager) =>
    writeSample(manager, data, log),
  );

  const tables = PURCHASING_TABLES.map((table) => table.path).join(", ");
  await dataSource.query(`ANALYZE ${tables}`);
  log.info("Sample data loaded", { source: data.description, ...counts });
  return counts;
}

/** describeSampleSource names a source for messages. */
export function describeSampleSource(source: SampleSource): string {
  return source.kind === "folder"
    ? `AdventureWorks files in ${source.dir}`
    : `generated data, seed ${source.seed}, scale ${source.scale}`;
}

async function openSample(
  source: SampleSource,
  log: Logger,
): Promise<SampleData> {
  if (source.kind === "folder") return readSampleFolder(source.dir, log);
  return generateSample(source);
}

async function writeSample(
  manager: EntityManager,
  data: SampleData,
  log: Logger,
): Promise<SampleCounts> {
  const created = await createPurchasingTables(manager);
  for (const table of created) log.info("Sample table created", { table });
  await lockTables(manager);
  await requireEmptyTables(manager);

  let vendors = 0;
  for (const chunk of data.vendors()) {
    vendors += await insertRows(manager, VENDOR_TABLE, chunk);
  }
  log.info("Sample rows inserted", { table: VENDOR_TABLE.path, rows: vendors });

  const { headers, details } = await writeOrders(manager, data, log);
  await addForeignKeys(manager, created);
  return { vendors, headers, details };
}

async function writeOrders(
  manager: EntityManager,
  data: SampleData,
  log: Logger,
): Promise<{ headers: number; details: number }> {
  let headers = 0;
  let details = 0;
  for (const batch of data.orders()) {
    headers += await insertRows(manager, HEADER_TABLE, batch.headers);
    details += await insertRows(manager, DETAIL_TABLE, batch.details);
    // Only big loads reach info: a line per batch would flood the log.
    const level = headers % PROGRESS_EVERY === 0 ? "info" : "debug";
    log[level]("Sample orders inserted", { headers, details });
  }
  log.info("Sample rows inserted", { table: HEADER_TABLE.path, rows: headers });
  log.info("Sample rows inserted", { table: DETAIL_TABLE.path, rows: details });
  return { headers, details };
}

/**
 * lockTables blocks other writers until the load commits, so that no row
 * arrives between the emptiness check and the inserts; readers go on.
 */
async function lockTables(manager: EntityManager): Promise<void> {
  const tables = PURCHASING_TABLES.map((table) => table.path).join(", ");
  await manager.query(`LOCK TABLE ${tables} IN SHARE ROW EXCLUSIVE MODE`);
}

async function requireEmptyTables(manager: EntityManager): Promise<void> {
  for (const table of PURCHASING_TABLES) {
    const [row]: { rows: string }[] = await manager.query(
      `SELECT count(*) AS rows FROM ${table.path}`,
    );
    const rowCount = Number(row.rows);
    if (rowCount > 0) throw new SampleTablesNotEmptyError(table.path, rowCount);
  }
}

/**
 * insertRows inserts rows with one INSERT per INSERT_CHUNK_SIZE rows, each
 * column bound as one array and unnested, which is far faster than a
 * statement per row and needs no values in the SQL text.
 */
async function insertRows(
  manager: EntityManager,
  table: TableSpec,
  rows: readonly SampleRow[],
): Promise<number> {
  const names = table.columns.map((column) => column.name).join(", ");
  const arrays = table.columns
    .map((column, i) => `$${i + 1}::${baseType(column.type)}[]`)
    .join(", ");
  const sql =
    `INSERT INTO ${table.path} (${names}) ` + `SELECT * FROM unnest(${arrays})`;

  for (let start = 0; start < rows.length; start += INSERT_CHUNK_SIZE) {
    const chunk = rows.slice(start, start + INSERT_CHUNK_SIZE);
    await manager.query(
      sql,
      table.columns.map((_, i) => chunk.map((row) => row[i])),
    );
  }
  return rows.length;
}

/** baseType drops a type's modifiers: numeric(19,4) becomes numeric. */
function baseType(type: string): string {
  return type.replace(/\(.*\)$/, "");
}
