import { Column, Entity, Index, PrimaryColumn } from "typeorm";

/**
 * SummedSalesResult is what one SummedSalesBatch task computed. It is keyed
 * by the task, so a task that ran twice into its result would break the
 * primary key instead of passing unnoticed.
 */
@Entity({ schema: "blog", name: "summedsalesresult" })
@Index("ix_summedsalesresult_vendorid", ["vendorId"])
export class SummedSalesResult {
  @PrimaryColumn({
    name: "taskid",
    type: "bigint",
    primaryKeyConstraintName: "pk_summedsalesresult",
  })
  taskId!: string;

  @Column({ name: "vendorid", type: "integer" })
  vendorId!: number;

  /** Exact decimal, read and written as text, never a float. */
  @Column({ name: "total", type: "numeric" })
  total!: string;

  @Column({ name: "items", type: "integer" })
  items!: number;

  @Column({ name: "runnerid", type: "text" })
  runnerId!: string;

  @Column({ name: "computedat", type: "timestamptz" })
  computedAt!: Date;
}
