import { SummedSalesContract } from "../../Contracts/SummedSalesContract";
import type { ITaskfy, TaskContext } from "../../Contracts/ITaskfy";
import { BatchTask } from "../../Contracts/TaskRegistry";
import { PurchaseOrderDetail } from "../../DataLayer/entities/PurchaseOrderDetail";
import { PurchaseOrderHeader } from "../../DataLayer/entities/PurchaseOrderHeader";
import { SummedSalesResult } from "../../DataLayer/entities/SummedSalesResult";

/**
 * SummedSalesBatch totals one vendor's purchase orders: the sum of their
 * subtotals and the number of their lines. It prints the original's line
 * and stores the result in the runner's transaction, so the result exists
 * exactly when the task is done.
 */
@BatchTask({ name: "SummedSalesBatch", contract: SummedSalesContract })
export class SummedSalesBatch implements ITaskfy<SummedSalesContract> {
  async execute(
    contract: SummedSalesContract,
    context: TaskContext,
  ): Promise<void> {
    const { manager } = context;
    const vendorId = contract.vendorId;

    // numeric is summed by PostgreSQL and read as text: never a float.
    const { total } = (await manager
      .createQueryBuilder(PurchaseOrderHeader, "header")
      .select("coalesce(sum(header.subTotal), 0)::text", "total")
      .where("header.vendorId = :vendorId", { vendorId })
      .getRawOne()) as { total: string };

    const items = await manager
      .createQueryBuilder(PurchaseOrderDetail, "detail")
      .innerJoin(
        PurchaseOrderHeader,
        "header",
        "header.purchaseOrderId = detail.purchaseOrderId",
      )
      .where("header.vendorId = :vendorId", { vendorId })
      .getCount();

    await manager.insert(SummedSalesResult, {
      taskId: context.taskId,
      vendorId,
      total,
      items,
      runnerId: context.runnerId,
      computedAt: new Date(),
    });
    context.print(`VendorId: ${vendorId}, Total: ${total}, Items ${items}.`);
  }
}
