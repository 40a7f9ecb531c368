import { BatchError } from "../../Contracts/errors";

/**
 * SampleFileMissingError: a sample data file, or the folder meant to hold
 * it, does not exist. `path` is what was looked for.
 */
export class SampleFileMissingError extends BatchError {
  constructor(
    readonly path: string,
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(`Cannot read sample data: ${path} does not exist; ${hint}`, options);
  }
}

/**
 * SampleFileFormatError: a sample data file is not in a form the loader
 * reads. `line` is 1-based, and undefined when the whole file is at fault
 * (an unknown encoding, say).
 */
export class SampleFileFormatError extends BatchError {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const where = line === undefined ? file : `${file} line ${line}`;
    super(`Cannot read sample data: ${where}: ${reason}`, options);
  }
}

/**
 * SampleTablesNotEmptyError: a purchasing table already holds rows, so the
 * loader refuses to add the sample to it. `table` is schema-qualified.
 */
export class SampleTablesNotEmptyError extends BatchError {
  constructor(
    readonly table: string,
    readonly rowCount: number,
  ) {
    super(
      `Cannot load sample data: ${table} already holds ${rowCount} rows; ` +
        "the loader only fills empty tables",
    );
  }
}
