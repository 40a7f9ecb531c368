import { escapeLiteral } from "pg";

/** The element types that arrayConstant writes. */
export type ArrayElementType = "bigint" | "int" | "text";

const INTEGER = /^-?\d+$/;

/**
 * arrayConstant writes `values` as a PostgreSQL array constant of `type`,
 * quoted by the driver's escapeLiteral, for statements that carry their
 * values inline because they travel in a query of several statements,
 * which cannot take parameters.
 *
 * @throws {TypeError} for an integer array element that is not an integer.
 */
export function arrayConstant(
  values: readonly (string | number | null)[],
  type: ArrayElementType,
): string {
  const elements = values.map((value) => {
    if (value === null) return "NULL";
    if (type === "text") {
      // Array input syntax: double quotes around each element, and a
      // backslash before each double quote or backslash inside it.
      return `"${String(value).replace(/["\\]/g, "\\$&")}"`;
    }
    const text = String(value);
    if (!INTEGER.test(text)) {
      throw new TypeError(`Cannot write ${text} into a ${type} array`);
    }
    return text;
  });
  return `${escapeLiteral(`{${elements.join(",")}}`)}::${type}[]`;
}
