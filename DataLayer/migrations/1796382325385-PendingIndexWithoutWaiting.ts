import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The claim's index leaves out the tasks waiting to retry, which the
 * waiting index already holds by when they are due. The claim walked every
 * waiting task on its way to the fresh ones: 30 ms a claim, and so each
 * idle runner's every poll, over 100,000 tasks backing off after an outage
 * downstream. It now takes due retries from the head of the waiting index
 * and fresh tasks from this one. The build reads the whole table and locks
 * out writes to it while it runs: run it with the runners stopped.
 */
export class PendingIndexWithoutWaiting1796382325385 implements MigrationInterface {
  name = "PendingIndexWithoutWaiting1796382325385";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_batchjob_fresh" ON "blog"."batchjob" ("id") WHERE "status" = 0 AND "notbefore" IS NULL`,
    );
    await queryRunner.query(`DROP INDEX "blog"."ix_batchjob_pending"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_batchjob_pending" ON "blog"."batchjob" ("id") WHERE "status" = 0`,
    );
    await queryRunner.query(`DROP INDEX "blog"."ix_batchjob_fresh"`);
  }
}
