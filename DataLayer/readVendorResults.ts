import type { DataSource } from "typeorm";
import { SummedSalesResult } from "./entities/SummedSalesResult";

/** VendorResult is one vendor's sum, as the example task computed it. */
export interface VendorResult {
  readonly vendorId: number;
  /** Exact decimal as text. */
  readonly total: string;
  readonly items: number;
  readonly runnerId: string;
}

/** VendorResults are some results, by vendor id, and how many there are. */
export interface VendorResults {
  readonly results: readonly VendorResult[];
  readonly count: number;
}

/**
 * readVendorResults reads the example job's results in vendor order, at
 * most `limit` (default 1,000) of them, and counts them all.
 *
 * @throws {RangeError} when limit is not an integer from 1 to 10,000.
 */
export async function readVendorResults(
  dataSource: DataSource,
  limit = 1_000,
): Promise<VendorResults> {
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new RangeError(
      `Cannot read vendor results: limit must be an integer from 1 to 10,000, got ${limit}`,
    );
  }
  const repository = dataSource.getRepository(SummedSalesResult);

  const rows = await repository.find({
    select: { vendorId: true, total: true, items: true, runnerId: true },
    order: { vendorId: "ASC", taskId: "ASC" },
    take: limit,
  });
  const count = await repository.count();
  return {
    results: rows.map(({ vendorId, total, items, runnerId }) => ({
      vendorId,
      total,
      items,
      runnerId,
    })),
    count,
  };
}
