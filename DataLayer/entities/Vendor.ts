import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * Vendor maps AdventureWorks' `purchasing.vendor` as the community
 * PostgreSQL port names it. The table belongs to the user's database, so it
 * stays out of schema sync and migrations.
 */
@Entity({ schema: "purchasing", name: "vendor", synchronize: false })
export class Vendor {
  @PrimaryColumn({ name: "businessentityid", type: "integer" })
  businessEntityId!: number;

  @Column({ name: "accountnumber", type: "varchar" })
  accountNumber!: string;

  @Column({ name: "name", type: "varchar" })
  name!: string;

  @Column({ name: "creditrating", type: "smallint" })
  creditRating!: number;

  @Column({ name: "preferredvendorstatus", type: "boolean" })
  preferredVendorStatus!: boolean;

  @Column({ name: "activeflag", type: "boolean" })
  activeFlag!: boolean;

  @Column({ name: "purchasingwebserviceurl", type: "varchar", nullable: true })
  purchasingWebServiceUrl!: string | null;

  @Column({ name: "modifieddate", type: "timestamp" })
  modifiedDate!: Date;
}
