import * as fs from "node:fs/promises";
import * as path from "node:path";
import { silentLogger, type Logger } from "../../Contracts/Logger";
import { decodeText, parseCsv, parseTabSeparated } from "./delimitedText";
import {
  ColumnSpec,
  DETAIL_TABLE,
  HEADER_TABLE,
  TableSpec,
  VENDOR_TABLE,
} from "./purchasingTables";
import type { SampleData, SampleRow } from "./sampleData";
import { SampleFileFormatError, SampleFileMissingError } from "./sampleErrors";

/** SampleFile is one file of the official data and how to read it. */
interface SampleFile {
  /** File name without extension, matched in any letter case. */
  readonly baseName: string;
  readonly table: TableSpec;
  /**
   * Columns of Microsoft's tab-separated export, in SQL Server order. It
   * includes the computed columns (TotalDue, LineTotal, StockedQty), which
   * the PostgreSQL port leaves out and the reader drops.
   */
  readonly microsoftColumns: readonly string[];
}

const VENDOR_FILE: SampleFile = {
  baseName: "vendor",
  table: VENDOR_TABLE,
  microsoftColumns: VENDOR_TABLE.columns.map((c) => c.name),
};

const HEADER_FILE: SampleFile = {
  baseName: "purchaseorderheader",
  table: HEADER_TABLE,
  microsoftColumns: [
    "purchaseorderid",
    "revisionnumber",
    "status",
    "employeeid",
    "vendorid",
    "shipmethodid",
    "orderdate",
    "shipdate",
    "subtotal",
    "taxamt",
    "freight",
    "totaldue",
    "modifieddate",
  ],
};

const DETAIL_FILE: SampleFile = {
  baseName: "purchaseorderdetail",
  table: DETAIL_TABLE,
  microsoftColumns: [
    "purchaseorderid",
    "purchaseorderdetailid",
    "duedate",
    "orderqty",
    "productid",
    "unitprice",
    "linetotal",
    "receivedqty",
    "rejectedqty",
    "stockedqty",
    "modifieddate",
  ],
};

/** The extensions tried, in this order, for each file. */
const EXTENSIONS = [".csv", ".tsv"];

/**
 * readSampleFolder reads the official AdventureWorks purchasing data from
 * `dir`: vendor, purchaseorderheader and purchaseorderdetail, each a .csv
 * or .tsv file found in any letter case. Each file may be in either form,
 * told apart by its first line:
 *
 * - the CSV form: a header row naming the PostgreSQL port's columns, then
 *   comma-separated records, an empty unquoted field being NULL;
 * - Microsoft's install-script form: tab-separated, no header row, UTF-8
 *   or UTF-16LE, with SQL Server's computed columns, which are dropped.
 *
 * The files are small (under 1 MB), so they are read whole and checked
 * before the load touches the database.
 *
 * @throws {SampleFileMissingError} when the folder or a file is missing.
 * @throws {SampleFileFormatError} naming file and line of malformed input.
 */
export async function readSampleFolder(
  dir: string,
  log: Logger = silentLogger,
): Promise<SampleData> {
  const names = await listFolder(dir);
  const vendors = await readSampleFile(dir, names, VENDOR_FILE, log);
  const headers = await readSampleFile(dir, names, HEADER_FILE, log);
  const details = await readSampleFile(dir, names, DETAIL_FILE, log);

  return {
    description: `AdventureWorks files in ${dir}`,
    vendors: () => [vendors],
    orders: () => [{ headers, details }],
  };
}

async function listFolder(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    throw new SampleFileMissingError(
      dir,
      "give a folder that holds vendor.csv, purchaseorderheader.csv " +
        "and purchaseorderdetail.csv",
      { cause: error },
    );
  }
}

async function readSampleFile(
  dir: string,
  names: readonly string[],
  spec: SampleFile,
  log: Logger,
): Promise<SampleRow[]> {
  const file = path.join(dir, findFileName(dir, names, spec));
  const text = decodeText(await fs.readFile(file), file);

  const microsoft = firstLine(text).includes("\t");
  const rows = microsoft
    ? readMicrosoftRows(text, file, spec)
    : readCsvRows(text, file, spec.table);
  log.debug("Sample file read", {
    file,
    format: microsoft ? "microsoft-tsv" : "csv",
    rows: rows.length,
  });
  return rows;
}

function findFileName(
  dir: string,
  names: readonly string[],
  spec: SampleFile,
): string {
  for (const extension of EXTENSIONS) {
    const wanted = spec.baseName + extension;
    const found = names.find((name) => name.toLowerCase() === wanted);
    if (found !== undefined) return found;
  }
  throw new SampleFileMissingError(
    path.join(dir, `${spec.baseName}.csv`),
    `looked for ${spec.baseName}.csv or .tsv in any letter case`,
  );
}

function readCsvRows(
  text: string,
  file: string,
  table: TableSpec,
): SampleRow[] {
  const records = parseCsv(text, file);
  const header = records.next();
  if (header.done) {
    throw new SampleFileFormatError(file, 1, "the file is empty");
  }
  const order = csvColumnOrder(header.value.fields, file, table);

  const rows: SampleRow[] = [];
  for (const { line, fields } of records) {
    checkFieldCount(fields, order.length, file, line);
    rows.push(
      checkRow(
        order.map((i) => fields[i]),
        table,
        file,
        line,
      ),
    );
  }
  return rows;
}

/**
 * csvColumnOrder maps the table's columns to positions in the header row,
 * which must name each column once and nothing else, in any order.
 */
function csvColumnOrder(
  names: readonly (string | null)[],
  file: string,
  table: TableSpec,
): number[] {
  const expected = table.columns.map((c) => c.name);
  const given = names.map((name) => (name ?? "").trim().toLowerCase());
  const sorted = (list: string[]) => [...list].sort().join(",");
  if (sorted(given) !== sorted(expected)) {
    throw new SampleFileFormatError(
      file,
      1,
      `expected a header row of ${expected.join(",")} or Microsoft's ` +
        `tab-separated form, got ${given.join(",")}`,
    );
  }
  return expected.map((name) => given.indexOf(name));
}

function readMicrosoftRows(
  text: string,
  file: string,
  spec: SampleFile,
): SampleRow[] {
  const order = spec.table.columns.map((c) =>
    spec.microsoftColumns.indexOf(c.name),
  );
  const rows: SampleRow[] = [];
  for (const { line, fields } of parseTabSeparated(text)) {
    checkFieldCount(fields, spec.microsoftColumns.length, file, line);
    rows.push(
      checkRow(
        order.map((i) => fields[i]),
        spec.table,
        file,
        line,
      ),
    );
  }
  return rows;
}

function checkFieldCount(
  fields: readonly unknown[],
  expected: number,
  file: string,
  line: number,
): void {
  if (fields.length === expected) return;
  throw new SampleFileFormatError(
    file,
    line,
    `expected ${expected} fields, got ${fields.length}`,
  );
}

/**
 * checkRow checks each value against its column's type, so that a bad
 * value is reported with its file and line rather than as a failed INSERT
 * of ten thousand rows.
 */
function checkRow(
  row: SampleRow,
  table: TableSpec,
  file: string,
  line: number,
): SampleRow {
  table.columns.forEach((column, i) => {
    const problem = valueProblem(row[i], column);
    if (problem !== undefined) {
      throw new SampleFileFormatError(
        file,
        line,
        `column ${column.name} ${problem}`,
      );
    }
  });
  return row;
}

const PATTERNS: Readonly<Record<string, RegExp>> = {
  integer: /^-?\d+$/,
  smallint: /^-?\d+$/,
  numeric: /^-?\d+(\.\d+)?$/,
  boolean: /^(0|1|true|false)$/i,
  timestamp: /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/,
};

function valueProblem(
  value: string | null,
  column: ColumnSpec,
): string | undefined {
  if (value === null) {
    return column.nullable ? undefined : "is empty but may not be NULL";
  }
  const [, kind, size] = /^(\w+)(?:\((\d+)\))?/.exec(column.type) ?? [];
  if (kind === "varchar" && size !== undefined) {
    const limit = Number(size);
    return value.length <= limit
      ? undefined
      : `holds at most ${limit} characters, got ${value.length}`;
  }
  const pattern = PATTERNS[kind];
  if (pattern === undefined || pattern.test(value)) return undefined;
  return `expects ${kind}, got "${value}"`;
}

function firstLine(text: string): string {
  const end = text.indexOf("\n");
  return end < 0 ? text : text.slice(0, end);
}
