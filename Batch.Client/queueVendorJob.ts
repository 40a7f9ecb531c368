import type { DataSource, EntityManager } from "typeorm";
import { BatchError } from "../Contracts/errors";
import { SummedSalesContract } from "../Contracts/SummedSalesContract";
import type { TaskRegistry } from "../Contracts/TaskRegistry";
import { enqueueTasks, NewTask } from "../DataLayer/enqueue";
import { BatchJob } from "../DataLayer/entities/BatchJob";
import { BatchJobAttempt } from "../DataLayer/entities/BatchJobAttempt";
import { SummedSalesResult } from "../DataLayer/entities/SummedSalesResult";
import { Vendor } from "../DataLayer/entities/Vendor";
import { tableOf } from "../DataLayer/identifiers";

/** The task that the vendor job queues, as registered by the runner. */
export const VENDOR_TASK = "SummedSalesBatch";

/** VendorTableMissingError: the database has no AdventureWorks vendors. */
export class VendorTableMissingError extends BatchError {
  constructor(readonly table: string) {
    super(
      `Cannot queue the vendor job: table ${table} does not exist; ` +
        "load the sample with npm run sample:load, or point DB_* at an AdventureWorks database",
    );
  }
}

/**
 * buildVendorTasks turns vendor ids into tasks, each contract validated and
 * serialized through the registry, so that nothing invalid is queued.
 *
 * @throws {ContractInvalidError} for an id that is not a positive integer.
 */
export function buildVendorTasks(
  registry: TaskRegistry,
  vendorIds: readonly number[],
): NewTask[] {
  const contractName = registry.contractNameOf(VENDOR_TASK);
  return vendorIds.map((vendorId) => {
    const serialized = registry.serialize(SummedSalesContract.of(vendorId));
    if (serialized.contractName !== contractName) {
      throw new TypeError(
        `${VENDOR_TASK} does not take ${serialized.contractName}`,
      );
    }
    return { className: VENDOR_TASK, ...serialized };
  });
}

/**
 * queueVendorJob replaces whatever the task tables held with one pending
 * task per vendor, and returns how many it queued. Truncation and inserts
 * share one transaction: runners see the old queue or the whole new one.
 *
 * @throws {VendorTableMissingError} when purchasing.vendor is absent.
 */
export async function queueVendorJob(
  dataSource: DataSource,
  registry: TaskRegistry,
): Promise<number> {
  return dataSource.transaction(async (manager) => {
    const vendorIds = await readVendorIds(manager);
    const tasks = buildVendorTasks(registry, vendorIds);
    const tables = [BatchJob, BatchJobAttempt, SummedSalesResult]
      .map((entity) => tableOf(manager, entity))
      .join(", ");
    await manager.query(`TRUNCATE ${tables} RESTART IDENTITY`);
    return enqueueTasks(manager, tasks);
  });
}

async function readVendorIds(manager: EntityManager): Promise<number[]> {
  const table = manager.connection.getMetadata(Vendor).tablePath;
  const [{ found }] = await manager.query("SELECT to_regclass($1) AS found", [
    table,
  ]);
  if (found === null) throw new VendorTableMissingError(table);

  const rows = await manager
    .createQueryBuilder(Vendor, "vendor")
    .select("vendor.businessEntityId", "id")
    .orderBy("vendor.businessEntityId", "ASC")
    .getRawMany<{ id: number }>();
  return rows.map((row) => row.id);
}
