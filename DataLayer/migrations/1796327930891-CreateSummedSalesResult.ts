import { MigrationInterface, QueryRunner } from "typeorm";

/** The example job's results, one row per task that computed it. */
export class CreateSummedSalesResult1796327930891 implements MigrationInterface {
  name = "CreateSummedSalesResult1796327930891";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "blog"."summedsalesresult" (
        "taskid" bigint NOT NULL,
        "vendorid" integer NOT NULL,
        "total" numeric NOT NULL,
        "items" integer NOT NULL,
        "runnerid" text NOT NULL,
        "computedat" TIMESTAMP WITH TIME ZONE NOT NULL,
        CONSTRAINT "pk_summedsalesresult" PRIMARY KEY ("taskid")
      )`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_summedsalesresult_vendorid" ON "blog"."summedsalesresult" ("vendorid")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `DROP INDEX "blog"."ix_summedsalesresult_vendorid"`,
    );
    await queryRunner.query(`DROP TABLE "blog"."summedsalesresult"`);
  }
}
