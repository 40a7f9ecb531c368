import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * An index of pending tasks only, for the claim: its size follows the
 * queue, not the table's history.
 */
export class AddPendingIndex1796330891673 implements MigrationInterface {
  name = "AddPendingIndex1796330891673";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_batchjob_pending" ON "blog"."batchjob" ("id") WHERE "status" = 0`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "blog"."ix_batchjob_pending"`);
  }
}
