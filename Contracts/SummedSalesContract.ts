import { Expose } from "class-transformer";
import { IsInt, IsPositive } from "./validators";
import type { IContract } from "./IContract";
import { BatchContract } from "./TaskRegistry";

/**
 * SummedSalesContract asks for one vendor's purchase totals. Its JSON keeps
 * the original's property name, `{ "VendorId": 1492 }`, so rows queued by
 * either implementation read the same.
 */
@BatchContract("SummedSalesContract")
export class SummedSalesContract implements IContract {
  /** The vendor's `businessentityid`. */
  @Expose({ name: "VendorId" })
  @IsInt()
  @IsPositive()
  vendorId!: number;

  /** of builds a contract for one vendor. */
  static of(vendorId: number): SummedSalesContract {
    const contract = new SummedSalesContract();
    contract.vendorId = vendorId;
    return contract;
  }
}
