import type { DataSource } from "typeorm";
import { PurchaseOrderDetail } from "../DataLayer/entities/PurchaseOrderDetail";
import { PurchaseOrderHeader } from "../DataLayer/entities/PurchaseOrderHeader";
import { SummedSalesResult } from "../DataLayer/entities/SummedSalesResult";
import { Vendor } from "../DataLayer/entities/Vendor";
import { tableOf } from "../DataLayer/identifiers";

/** VendorJobCheck compares the runners' results with one SQL aggregate. */
export interface VendorJobCheck {
  readonly vendors: number;
  readonly matching: number;
  /** One sentence per vendor whose results are missing, doubled or wrong. */
  readonly problems: readonly string[];
}

/**
 * verifyVendorJob computes every vendor's total and item count with one
 * aggregate query, the single-machine answer, and checks that the runners
 * stored exactly one equal result for each vendor.
 */
export async function verifyVendorJob(
  dataSource: DataSource,
): Promise<VendorJobCheck> {
  const m = dataSource.manager;
  const rows: {
    vendorid: number;
    expected_total: string;
    expected_items: number;
    results: number;
    total: string | null;
    items: number | null;
  }[] = await dataSource.query(
    `WITH totals AS (
       SELECT vendorid, sum(subtotal) AS total
       FROM ${tableOf(m, PurchaseOrderHeader)} GROUP BY vendorid
     ), items AS (
       SELECT header.vendorid, count(*) AS items
       FROM ${tableOf(m, PurchaseOrderDetail)} AS detail
       JOIN ${tableOf(m, PurchaseOrderHeader)} AS header
         ON header.purchaseorderid = detail.purchaseorderid
       GROUP BY header.vendorid
     ), results AS (
       SELECT vendorid, count(*)::int AS results,
              min(total) AS total, min(items) AS items
       FROM ${tableOf(m, SummedSalesResult)} GROUP BY vendorid
     )
     SELECT vendor.businessentityid AS vendorid,
            coalesce(totals.total, 0)::text AS expected_total,
            coalesce(items.items, 0)::int AS expected_items,
            coalesce(results.results, 0) AS results,
            results.total::text AS total, results.items
     FROM ${tableOf(m, Vendor)} AS vendor
     LEFT JOIN totals ON totals.vendorid = vendor.businessentityid
     LEFT JOIN items ON items.vendorid = vendor.businessentityid
     LEFT JOIN results ON results.vendorid = vendor.businessentityid
     ORDER BY vendor.businessentityid`,
  );

  const problems = rows.flatMap((row) => {
    if (row.results !== 1) {
      return [`Vendor ${row.vendorid} has ${row.results} results, expected 1`];
    }
    if (
      !sameDecimal(row.total, row.expected_total) ||
      row.items !== row.expected_items
    ) {
      return [
        `Vendor ${row.vendorid}: got total ${row.total} and ${row.items} items, ` +
          `expected ${row.expected_total} and ${row.expected_items}`,
      ];
    }
    return [];
  });
  return {
    vendors: rows.length,
    matching: rows.length - problems.length,
    problems,
  };
}

/** sameDecimal compares decimal strings by value: "0" equals "0.0000". */
function sameDecimal(a: string | null, b: string): boolean {
  if (a === null) return false;
  const normalise = (text: string) =>
    text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  return normalise(a) === normalise(b);
}
