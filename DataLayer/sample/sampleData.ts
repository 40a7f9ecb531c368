/**
 * SampleRow is one row of a purchasing table as text, in the order of its
 * TableSpec's columns; null is SQL NULL. PostgreSQL parses the text, so
 * money and timestamps arrive exactly as written.
 */
export type SampleRow = readonly (string | null)[];

/**
 * OrderBatch is a set of purchase orders with all of their lines. The
 * loader inserts its headers before its details, which the foreign key
 * from detail to header needs.
 */
export interface OrderBatch {
  readonly headers: readonly SampleRow[];
  readonly details: readonly SampleRow[];
}

/**
 * SampleData is a data set to load. Each call of `vendors()` or `orders()`
 * starts over from the beginning, so a generated set yields the same rows
 * every time and never has to sit in memory whole.
 */
export interface SampleData {
  /** Says where the rows come from, for messages. */
  readonly description: string;
  vendors(): Iterable<readonly SampleRow[]>;
  orders(): Iterable<OrderBatch>;
}
