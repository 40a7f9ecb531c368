import { SampleFileFormatError } from "./sampleErrors";

/** TextRecord is one record of a delimited file and the line it starts on. */
export interface TextRecord {
  readonly line: number;
  /** An empty unquoted field is null; a quoted one ("") is "". */
  readonly fields: readonly (string | null)[];
}

/**
 * decodeText turns a file's bytes into text. A byte order mark picks UTF-8
 * or UTF-16; without one, a zero second byte means UTF-16LE, the
 * "widechar" form that SQL Server writes, and anything else must be UTF-8.
 *
 * @throws {SampleFileFormatError} when the bytes are not valid text.
 */
export function decodeText(bytes: Uint8Array, file: string): string {
  const encoding = detectEncoding(bytes);
  try {
    // TextDecoder drops the byte order mark itself.
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch (error) {
    throw new SampleFileFormatError(
      file,
      undefined,
      `the file is not valid ${encoding} text`,
      { cause: error },
    );
  }
}

function detectEncoding(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  if (bytes.length >= 2 && bytes[0] !== 0 && bytes[1] === 0) {
    return "utf-16le";
  }
  return "utf-8";
}

/**
 * parseTabSeparated reads SQL Server's bulk-copy text: fields split by
 * tabs, records by CRLF or LF, no quoting, an empty field is NULL. Blank
 * lines are skipped.
 */
export function* parseTabSeparated(text: string): Generator<TextRecord> {
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    if (lines[index] === "") continue;
    const fields = lines[index].split("\t").map((f) => (f === "" ? null : f));
    yield { line: index + 1, fields };
  }
}

/**
 * parseCsv reads RFC 4180 text: fields split by commas, records by CRLF or
 * LF, a field in double quotes may hold commas, newlines and doubled
 * quotes. Blank lines are skipped; none of our tables has one column, so a
 * blank line is never a record.
 *
 * @throws {SampleFileFormatError} naming the line of a stray or unclosed
 *   quote.
 */
export function* parseCsv(text: string, file: string): Generator<TextRecord> {
  const scanner = new CsvScanner(text, file);
  while (!scanner.done) {
    const line = scanner.line;
    const fields = scanner.record();
    if (fields.length === 1 && fields[0] === null) continue;
    yield { line, fields };
  }
}

/** CsvScanner walks the text once, tracking the line for messages. */
class CsvScanner {
  private pos = 0;
  line = 1;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }

  record(): (string | null)[] {
    const fields: (string | null)[] = [];
    for (;;) {
      fields.push(this.text[this.pos] === '"' ? this.quoted() : this.plain());
      if (this.text[this.pos] !== ",") break;
      this.pos++;
    }
    this.endLine();
    return fields;
  }

  private plain(): string | null {
    const start = this.pos;
    while (!this.done && !isFieldEnd(this.text[this.pos])) {
      if (this.text[this.pos] === '"') {
        throw this.fail(this.line, "a quote inside an unquoted field");
      }
      this.pos++;
    }
    return start === this.pos ? null : this.text.slice(start, this.pos);
  }

  private quoted(): string {
    const firstLine = this.line;
    let value = "";
    this.pos++;
    for (;;) {
      const close = this.text.indexOf('"', this.pos);
      if (close < 0) throw this.fail(firstLine, "a quote that is never closed");
      const part = this.text.slice(this.pos, close);
      this.line += countNewlines(part);
      value += part;
      this.pos = close + 1;
      if (this.text[this.pos] !== '"') break;
      value += '"';
      this.pos++;
    }
    if (!this.done && !isFieldEnd(this.text[this.pos])) {
      throw this.fail(this.line, "text after a closing quote");
    }
    return value;
  }

  private endLine(): void {
    if (this.text[this.pos] === "\r") this.pos++;
    if (this.text[this.pos] === "\n") this.pos++;
    this.line++;
  }

  private fail(line: number, reason: string): SampleFileFormatError {
    return new SampleFileFormatError(this.file, line, reason);
  }
}

function isFieldEnd(char: string): boolean {
  return char === "," || char === "\n" || char === "\r";
}

function countNewlines(text: string): number {
  // Only LFs are counted, so a CRLF inside quotes counts once.
  let count = 0;
  for (let at = text.indexOf("\n"); at >= 0; at = text.indexOf("\n", at + 1)) {
    count++;
  }
  return count;
}
