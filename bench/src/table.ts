/** A Table is a titled grid of cells, printed with aligned columns. */
export interface Table {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
  /** Lines printed under the table: units, caveats. */
  readonly notes?: readonly string[];
}

/** problemsCell says how many problems a run had, and the first of them. */
export function problemsCell(problems: readonly string[]): string {
  return problems.length === 0
    ? ""
    : `${problems.length}: ${problems[0].slice(0, 60)}`;
}

/** passesCell lists the rate of each pass, in the order they ran. */
export function passesCell(rates: readonly number[] | undefined): string {
  return (rates ?? []).map(formatCell).join(" / ");
}

/** formatCell prints numbers with thousands separators, NaN as a dash. */
export function formatCell(value: string | number): string {
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return "–";
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : 1;
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/**
 * formatTable lays a table out as text: text columns left-aligned,
 * numeric columns right-aligned.
 */
export function formatTable(table: Table): string {
  const cells = table.rows.map((row) => row.map(formatCell));
  const widths = table.columns.map((name, index) =>
    Math.max(name.length, ...cells.map((row) => (row[index] ?? "").length)),
  );
  const numeric = table.columns.map((_, index) =>
    table.rows.every((row) => typeof row[index] === "number"),
  );
  const line = (values: readonly string[]) =>
    values
      .map((value, index) =>
        numeric[index]
          ? value.padStart(widths[index])
          : value.padEnd(widths[index]),
      )
      .join("  ")
      .trimEnd();

  return [
    table.title,
    line(table.columns),
    line(widths.map((width) => "-".repeat(width))),
    ...cells.map(line),
    ...(table.notes ?? []).map((note) => `  ${note}`),
  ].join("\n");
}
