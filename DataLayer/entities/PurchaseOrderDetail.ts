import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * PurchaseOrderDetail maps `purchasing.purchaseorderdetail`, one line of a
 * purchase order, keyed by order and line as in AdventureWorks.
 */
@Entity({
  schema: "purchasing",
  name: "purchaseorderdetail",
  synchronize: false,
})
export class PurchaseOrderDetail {
  @PrimaryColumn({ name: "purchaseorderid", type: "integer" })
  purchaseOrderId!: number;

  @PrimaryColumn({ name: "purchaseorderdetailid", type: "integer" })
  purchaseOrderDetailId!: number;

  @Column({ name: "duedate", type: "timestamp" })
  dueDate!: Date;

  @Column({ name: "orderqty", type: "smallint" })
  orderQty!: number;

  @Column({ name: "productid", type: "integer" })
  productId!: number;

  @Column({ name: "unitprice", type: "numeric" })
  unitPrice!: string;

  @Column({ name: "receivedqty", type: "numeric", precision: 8, scale: 2 })
  receivedQty!: string;

  @Column({ name: "rejectedqty", type: "numeric", precision: 8, scale: 2 })
  rejectedQty!: string;

  @Column({ name: "modifieddate", type: "timestamp" })
  modifiedDate!: Date;
}
