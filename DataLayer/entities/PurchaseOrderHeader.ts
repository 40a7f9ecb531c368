import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * PurchaseOrderHeader maps `purchasing.purchaseorderheader`. Money columns
 * are numeric and travel as strings so that sums stay exact.
 */
@Entity({
  schema: "purchasing",
  name: "purchaseorderheader",
  synchronize: false,
})
export class PurchaseOrderHeader {
  @PrimaryColumn({ name: "purchaseorderid", type: "integer" })
  purchaseOrderId!: number;

  @Column({ name: "revisionnumber", type: "smallint" })
  revisionNumber!: number;

  @Column({ name: "status", type: "smallint" })
  status!: number;

  @Column({ name: "employeeid", type: "integer" })
  employeeId!: number;

  @Column({ name: "vendorid", type: "integer" })
  vendorId!: number;

  @Column({ name: "shipmethodid", type: "integer" })
  shipMethodId!: number;

  @Column({ name: "orderdate", type: "timestamp" })
  orderDate!: Date;

  @Column({ name: "shipdate", type: "timestamp", nullable: true })
  shipDate!: Date | null;

  @Column({ name: "subtotal", type: "numeric" })
  subTotal!: string;

  @Column({ name: "taxamt", type: "numeric" })
  taxAmt!: string;

  @Column({ name: "freight", type: "numeric" })
  freight!: string;

  @Column({ name: "modifieddate", type: "timestamp" })
  modifiedDate!: Date;
}
